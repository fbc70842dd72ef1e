"""Training loops for the natural-image models: classifiers (SGD, optionally
adversarial with the project's PGD) and autoencoders (Adam, MSE)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .attacks import pgd
from .models import batched
from .progress import bar
from .resume import Resume, rng_state, set_rng_state


def batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def run_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    n: int,
    batch_size: int,
    gen: torch.Generator,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    name: str,
    epoch: int,
    progress: bool = True,
) -> float:
    """One pass over shuffled batches; ``batch_loss(idx)`` returns the mean batch loss.
    Returns the sample-weighted mean loss, failing loudly if it is not finite."""
    total, count = 0.0, 0
    steps = -(-n // batch_size)
    it = batches(n, batch_size, gen)
    for idx in bar(it, steps, f"{name} epoch {epoch}") if progress else it:
        loss = batch_loss(idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        count += len(idx)
    mean = total / count
    check_finite(mean, name, epoch)
    return mean


def check_finite(loss: float, name: str, epoch: int) -> None:
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"training of {name} diverged at epoch {epoch}: loss {loss}; lower the learning rate"
        )


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    if x.shape[0] == 0:
        return 0.0
    pred = batched(model, x, batch_size, lambda out: out.argmax(1).cpu())
    return int((pred == y).sum()) / x.shape[0]


def train_classifier(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    momentum: float = 0.0,
    adversarial: dict | None = None,
    name: str = "classifier",
    on_epoch: Callable[[int, nn.Module, dict], None] | None = None,
    resume: Resume | None = None,
) -> dict[str, list[float]]:
    """SGD on cross-entropy. ``adversarial`` (keys norm, eps, step_size, steps) replaces
    each batch by its PGD counterpart with the true labels (Madry-style training).
    ``on_epoch(epoch, model, stats)`` runs after every epoch, also for epoch 0 (init).
    ``resume``: save the training state every few epochs and go on from a saved one
    (the epochs before it, ``on_epoch`` included, are not run again)."""
    dev = next(model.parameters()).device
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    hist: dict[str, list[float]] = {"loss": [], "train_accuracy": []}
    start = restore_training(resume, model, opt, gen, hist)
    if on_epoch is not None and start == 1:
        on_epoch(0, model, {"loss": float("nan"), "train_accuracy": accuracy(model, x, y)})

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb, yb = x[idx].to(dev), y[idx].to(dev)
        if adversarial is not None:
            model.eval()
            xb = pgd(model, xb, yb, early_stop=False, **adversarial).x_adv
        model.train()
        return nn.functional.cross_entropy(model(xb), yb)

    for epoch in range(start, epochs + 1):
        mean = run_epoch(model, opt, x.shape[0], batch_size, gen, batch_loss, name, epoch)
        stats = {"loss": mean, "train_accuracy": accuracy(model, x, y)}
        hist["loss"].append(mean)
        hist["train_accuracy"].append(stats["train_accuracy"])
        if on_epoch is not None:
            on_epoch(epoch, model, stats)
        save_training(resume, epoch, epochs, model, opt, gen, hist)
    model.eval()
    return hist


def restore_training(
    resume: Resume | None,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    gen: torch.Generator,
    hist: dict | list,
    sched: torch.optim.lr_scheduler.LRScheduler | None = None,
    gens: dict[str, torch.Generator] | None = None,
) -> int:
    """Put a saved training state back (model, optimiser, scheduler, generators,
    history); the first epoch still to run (1 without a saved state)."""
    state = resume.load() if resume is not None else None
    if state is None:
        return 1
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    if sched is not None:
        sched.load_state_dict(state["sched"])
    gen.set_state(state["gen"])
    for k, g in (gens or {}).items():
        g.set_state(state["gens"][k])
    set_rng_state(state["rng"])
    if isinstance(hist, dict):
        hist.update(state["hist"])
    else:
        hist[:] = state["hist"]
    return int(state["epoch"]) + 1


def save_training(
    resume: Resume | None,
    epoch: int,
    epochs: int,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    gen: torch.Generator,
    hist: dict | list,
    sched: torch.optim.lr_scheduler.LRScheduler | None = None,
    gens: dict[str, torch.Generator] | None = None,
) -> None:
    """Save the training state after ``epoch`` when ``resume`` says it is due."""
    if resume is None or resume.every <= 0 or epoch >= epochs or epoch % resume.every:
        return
    state = {
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "gen": gen.get_state(),
        "gens": {k: g.get_state() for k, g in (gens or {}).items()},
        "rng": rng_state(),
        "hist": hist,
    }
    if sched is not None:
        state["sched"] = sched.state_dict()
    resume.save(epoch, epochs, state)


def train_autoencoder(
    model: nn.Module,
    x: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    name: str = "autoencoder",
    on_epoch: Callable[[int, float], None] | None = None,
    resume: Resume | None = None,
) -> list[float]:
    """Adam on the mean squared reconstruction error; returns the loss per epoch.
    ``resume`` as in :func:`train_classifier`."""
    dev = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    hist: list[float] = []
    start = restore_training(resume, model, opt, gen, hist)
    model.train()

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb = x[idx].to(dev)
        return nn.functional.mse_loss(model(xb), xb)

    for epoch in range(start, epochs + 1):
        mean = run_epoch(model, opt, x.shape[0], batch_size, gen, batch_loss, name, epoch)
        hist.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
        save_training(resume, epoch, epochs, model, opt, gen, hist)
    model.eval()
    return hist


@torch.no_grad()
def reconstruction_errors(
    model: nn.Module, x: torch.Tensor, batch_size: int = 500
) -> dict[str, np.ndarray]:
    """Per-image MSE and L2 distance between x and its reconstruction (the paper
    reports the mean L2 distance: 2.1 for MNIST, 7.88 for CIFAR-10)."""
    model.eval()

    def errors(xb: torch.Tensor) -> torch.Tensor:
        d = (model(xb) - xb).flatten(1)
        return torch.stack([d.pow(2).mean(1), d.norm(dim=1)], 1).cpu()

    e = batched(errors, x, batch_size, device=next(model.parameters()).device)
    return {"mse": e[:, 0].contiguous().numpy(), "l2": e[:, 1].contiguous().numpy()}
