"""Training loops for the natural-image models: classifiers (SGD, optionally
adversarial with the project's PGD) and autoencoders (Adam, MSE)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    training = TrainingState(model, opt, gen, hist)
    start = training.restore(resume)
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
        training.save(resume, epoch, epochs)
    model.eval()
    return hist


@dataclass
class TrainingState:
    """What a training loop must save to go on where it stopped: model, optimiser,
    shuffling generator, history, and optionally a scheduler and further generators.
    The torch global generator is saved and restored with them."""

    model: nn.Module
    opt: torch.optim.Optimizer
    gen: torch.Generator
    hist: dict | list
    sched: torch.optim.lr_scheduler.LRScheduler | None = None
    gens: dict[str, torch.Generator] = field(default_factory=dict)

    def restore(self, resume: Resume | None) -> int:
        """Put ``resume``'s saved state back; the first epoch still to run (1 without
        a saved state)."""
        state = resume.load() if resume is not None else None
        if state is None:
            return 1
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        if self.sched is not None:
            self.sched.load_state_dict(state["sched"])
        self.gen.set_state(state["gen"])
        for k, g in self.gens.items():
            g.set_state(state["gens"][k])
        set_rng_state(state["rng"])
        if isinstance(self.hist, dict):
            self.hist.update(state["hist"])
        else:
            self.hist[:] = state["hist"]
        return int(state["epoch"]) + 1

    def save(self, resume: Resume | None, epoch: int, epochs: int) -> None:
        """Save the state after ``epoch`` when ``resume`` says it is due."""
        if resume is None or not resume.due(epoch, epochs):
            return
        state = {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "gen": self.gen.get_state(),
            "gens": {k: g.get_state() for k, g in self.gens.items()},
            "rng": rng_state(),
            "hist": self.hist,
        }
        if self.sched is not None:
            state["sched"] = self.sched.state_dict()
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
    training = TrainingState(model, opt, gen, hist)
    start = training.restore(resume)
    model.train()

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb = x[idx].to(dev)
        return nn.functional.mse_loss(model(xb), xb)

    for epoch in range(start, epochs + 1):
        mean = run_epoch(model, opt, x.shape[0], batch_size, gen, batch_loss, name, epoch)
        hist.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
        training.save(resume, epoch, epochs)
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
