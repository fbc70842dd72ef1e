"""The DMM low-dimensional experiment (Sec. 6, App. C): a 2-layer ReLU network
with a fixed random output layer, trained with SGD; the decision boundary is
recorded at chosen epochs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.func import grad, vmap


class TwoLayerNet(nn.Module):
    """``logit(x) = u . relu(W x + b)`` with ``u`` fixed (a buffer, never trained).

    The hidden layer keeps PyTorch's default initialisation (App. C). ``u`` is drawn
    uniformly from {-1, +1} (``sign``) or from U[-1, 1] (``uniform``).
    """

    def __init__(self, in_dim: int, hidden: int, output_weights: str = "sign", seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.hidden = nn.Linear(in_dim, hidden)
        bound = 1.0 / np.sqrt(in_dim)  # PyTorch's default Linear init, drawn from our generator
        with torch.no_grad():
            self.hidden.weight.uniform_(-bound, bound, generator=gen)
            self.hidden.bias.uniform_(-bound, bound, generator=gen)
        if output_weights == "sign":
            u = torch.randint(0, 2, (hidden,), generator=gen).float() * 2 - 1
        elif output_weights == "uniform":
            u = torch.rand(hidden, generator=gen) * 2 - 1
        else:
            raise ValueError(f"output_weights must be 'sign' or 'uniform', got {output_weights!r}")
        self.register_buffer("out_weight", u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x)) @ self.out_weight


def random_labels(n: int, seed: int) -> np.ndarray:
    """The control's labels: i.i.d. fair coin flips, independent of position."""
    return np.random.default_rng(seed + 7919).integers(0, 2, size=n).astype(np.int8)


def l2_single_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """One L2 PGD step of length ``eps`` up the loss gradient, clipped to [0, 1]."""
    x = x.detach().requires_grad_(True)
    loss = nn.functional.binary_cross_entropy_with_logits(model(x), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    norm = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (x + eps * g / norm).clamp(0.0, 1.0).detach()


def train(
    model: TwoLayerNet,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    adversarial_eps: float | None = None,
    snapshot_epochs: tuple[int, ...] = (),
    on_snapshot: Callable[[int, TwoLayerNet], None] | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> dict[str, np.ndarray]:
    """SGD on the BCE loss; returns per-epoch loss and accuracy (epoch 0 = init).

    With ``adversarial_eps`` every batch is replaced by its single-step L2 PGD
    counterpart (true labels), as in DMM Fig. 3.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed + 104729)
    y = y.float()
    n = x.shape[0]
    losses, accs = [], []

    def record(epoch: int) -> None:
        with torch.no_grad():
            logit = model(x)
            loss = nn.functional.binary_cross_entropy_with_logits(logit, y).item()
            acc = ((logit >= 0).float() == y).float().mean().item()
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"low-dim network diverged at epoch {epoch}: loss {loss}; lower lowdim.train.lr"
            )
        losses.append(loss)
        accs.append(acc)
        if progress is not None:
            progress(epoch, loss, acc)
        if on_snapshot is not None and epoch in snapshot_epochs:
            on_snapshot(epoch, model)

    record(0)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n, generator=gen).to(x.device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            if adversarial_eps is not None:
                xb = l2_single_step(model, xb, yb, adversarial_eps)
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
            loss.backward()
            opt.step()
        record(epoch)
    return {"loss": np.asarray(losses), "accuracy": np.asarray(accs)}


@torch.no_grad()
def evaluate(model: nn.Module, points: np.ndarray | torch.Tensor, chunk: int = 16384) -> np.ndarray:
    """Logits at many points, in chunks so memory stays ~ chunk * hidden floats."""
    device = next(model.parameters()).device
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32)).reshape(-1, np.shape(points)[-1])
    out = [model(pts[i : i + chunk].to(device)).cpu() for i in range(0, pts.shape[0], chunk)]
    return torch.cat(out).numpy().reshape(np.shape(points)[:-1])


def grid_axes(dim: int, res: int) -> list[np.ndarray]:
    return [np.linspace(0.0, 1.0, res) for _ in range(dim)]


def evaluate_grid(model: nn.Module, dim: int, res: int) -> np.ndarray:
    """Logits on the regular grid over [0,1]^dim, shape (res,)*dim, indexing 'ij'."""
    mesh = np.stack(np.meshgrid(*grid_axes(dim, res), indexing="ij"), axis=-1)
    return evaluate(model, mesh)


def evaluate_normal_lines(
    model: nn.Module, points: np.ndarray, normal: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Logits along ``p + s * normal`` for each point and offset; NaN outside the cube."""
    lines = points[:, None, :] + offsets[None, :, None] * normal[None, None, :]
    vals = evaluate(model, lines)
    inside = np.all((lines >= 0) & (lines <= 1), axis=-1)
    return np.where(inside, vals, np.nan)


def input_gradients(model: nn.Module, points: np.ndarray) -> np.ndarray:
    """d logit / d x at each point (torch.func, vectorised over points)."""
    device = next(model.parameters()).device
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32), device=device)

    def f(p: torch.Tensor) -> torch.Tensor:
        return model(p[None])[0]

    return vmap(grad(f))(pts).detach().cpu().numpy()
