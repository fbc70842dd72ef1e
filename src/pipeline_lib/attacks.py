"""The project's attack library: batched L2 / L-inf PGD with the margin loss (or the
cross-entropy).

Used by every experiment: untargeted and targeted, optional random start,
projection onto the epsilon-ball and the [0, 1] box after every step, per-sample
early stop ("greedy": a sample stops as soon as it is adversarial, DMM App. F),
a hook that projects each gradient on or off a per-sample subspace before it is
normalised (App. F), per-sample epsilon, and a minimal-distance mode that
bisects epsilon per sample.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .invariants import check_ball, check_box

Hook = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class AttackResult:
    x_adv: torch.Tensor  # (N, ...) adversarial inputs (the last iterate where it failed)
    success: torch.Tensor  # (N,) bool: misclassified (untargeted) / hit the target
    steps: torch.Tensor  # (N,) int: gradient steps taken (early stop), -1 if never adversarial
    norm: torch.Tensor  # (N,) norm of x_adv - x in the attack's norm


def margin_loss(
    logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample margin to maximise: untargeted ``max_{j != y} z_j - z_y``; targeted
    ``z_t - max_{j != t} z_j``. Positive means the attack has succeeded."""
    cls = y if target is None else target
    own = logits.gather(1, cls[:, None])[:, 0]
    other = logits.masked_fill(
        torch.nn.functional.one_hot(cls, logits.shape[1]).bool(), float("-inf")
    ).amax(1)
    return other - own if target is None else own - other


def margin_and_grad(
    logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`margin_loss` (detached) and its gradient with respect to the logits, +-1 at
    the own (target) class and at the best other class, written down directly instead of
    backpropagated through the loss (PGD's step then backpropagates from the logits).
    Where the best other class is tied, it takes the first of them; autograd's ``amax``
    would split the gradient among them."""
    cls = (y if target is None else target)[:, None]
    with torch.no_grad():
        own = logits.gather(1, cls)
        other, j = logits.scatter(1, cls, float("-inf")).max(1, keepdim=True)
        s = -1.0 if target is None else 1.0  # d loss / d own
        loss = ((other - own) if target is None else (own - other))[:, 0]
        grad = torch.zeros_like(logits).scatter_(1, j, -s).scatter_(1, cls, s)
    return loss, grad


LOSSES = ("margin", "cross_entropy")


def cross_entropy_grad(
    logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Gradient with respect to the logits of the cross-entropy PGD ascends (Madry et
    al.): untargeted, +CE of the true label (softmax - onehot(y)); targeted, -CE of the
    target (onehot(t) - softmax)."""
    with torch.no_grad():
        p = torch.softmax(logits, 1)
        if target is None:
            return p.scatter_add(1, y[:, None], -torch.ones_like(p[:, :1]))
        return (-p).scatter_add(1, target[:, None], torch.ones_like(p[:, :1]))


def _per_sample(v, n: int, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(v, dtype=like.dtype, device=like.device)
    return t.expand(n).clone() if t.ndim == 0 else t.reshape(n).clone()


def per_sample_norm(d: torch.Tensor, norm: str) -> torch.Tensor:
    """The L2 or L-inf norm of each sample of a batch."""
    flat = d.flatten(1)
    return flat.norm(dim=1) if norm == "l2" else flat.abs().amax(1)


def per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample vector shaped to broadcast against the batch ``like``."""
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def _project_ball(d: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "l2":
        n = per_sample_norm(d, "l2").clamp_min(1e-12)
        return d * per_sample(torch.clamp(eps / n, max=1.0), d)
    e = per_sample(eps, d)
    return torch.maximum(torch.minimum(d, e), -e)


def _random_start(x, eps, norm, generator):
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device="cpu").to(x)
        return (2 * u - 1) * per_sample(eps, x)
    g = torch.randn(x.shape, generator=generator, device="cpu").to(x)
    g = g / per_sample(per_sample_norm(g, "l2").clamp_min(1e-12), x)
    r = torch.rand(x.shape[0], generator=generator, device="cpu").to(x)
    return g * per_sample(eps * r, x)


def _back_into_ball(
    v: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, norm: str, lo: float, hi: float
) -> torch.Tensor:
    """``clamp(x + proj_ball(v - x), lo, hi)`` with the projection fused into the add."""
    d = v - x
    if norm == "l2":
        f = torch.clamp(eps / per_sample_norm(d, "l2").clamp_min(1e-12), max=1.0)
        return torch.addcmul(x, d, per_sample(f, d)).clamp_(lo, hi)
    e = per_sample(eps, d)
    return x.add(d.clamp_(-e, e)).clamp_(lo, hi)


@contextlib.contextmanager
def _frozen(model: torch.nn.Module):
    """Parameters out of autograd while attacking (only input gradients are needed),
    restored afterwards even on error."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def pgd(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    norm: str = "l2",
    eps: float | torch.Tensor,
    step_size: float | torch.Tensor,
    steps: int,
    target: torch.Tensor | None = None,
    random_start: bool = False,
    early_stop: bool = True,
    project: Hook | None = None,
    generator: torch.Generator | None = None,
    box: tuple[float, float] = (0.0, 1.0),
    loss: str = "margin",
) -> AttackResult:
    """Projected gradient ascent on the margin loss (see module docstring), or on the
    cross-entropy (``loss="cross_entropy"``, Madry et al.'s PGD); success (and the early
    stop) is always a positive margin, i.e. misclassified / the target reached.

    ``eps`` and ``step_size`` may be scalars or per-sample tensors. ``project(g, idx)``
    receives the gradient of the still-active samples and their indices in the batch
    and returns the gradient to use (e.g. its projection on a per-sample subspace).
    """
    if norm not in ("l2", "linf"):
        raise ValueError(f"norm must be 'l2' or 'linf', got {norm!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    x0 = x.detach()
    n = x0.shape[0]
    eps_t = _per_sample(eps, n, x0)
    step_t = _per_sample(step_size, n, x0)
    if (eps_t < 0).any() or (step_t <= 0).any():
        raise ValueError("eps must be >= 0 and step_size > 0")
    lo, hi = box
    delta = torch.zeros_like(x0)
    if random_start:
        delta = _project_ball(_random_start(x0, eps_t, norm, generator), eps_t, norm)
        delta = (x0 + delta).clamp(lo, hi) - x0
    taken = torch.full((n,), -1, dtype=torch.long, device=x0.device)
    # The loop works on compact tensors of the still-active samples (all of them without
    # early stop) and keeps the iterate x + delta itself, so a step costs about as many
    # elementwise passes as the plain PGD of reference implementations; a sample that
    # succeeds leaves the batch once, its iterate written back into ``x_adv`` then.
    x_adv = x0 + delta
    idx = torch.arange(n, device=x0.device)
    xa, va, ya, ta = x0, x_adv, y, target
    eps_a, step_a = eps_t, step_t
    with _frozen(model):
        for it in range(steps + 1):
            v = va.detach().requires_grad_(True)
            logits = model(v)
            margin, dloss = margin_and_grad(logits, ya, ta)
            if loss == "cross_entropy":
                dloss = cross_entropy_grad(logits, ya, ta)
            ok = margin > 0
            if early_stop or it == steps:
                taken[idx[ok]] = it
            if it == steps:
                break
            (g,) = torch.autograd.grad(logits, v, dloss)
            v = v.detach()
            if early_stop and bool(ok.any()):
                x_adv[idx[ok]] = v[ok]
                keep = ~ok
                idx, xa, v, g, ya = idx[keep], xa[keep], v[keep], g[keep], ya[keep]
                eps_a, step_a = eps_a[keep], step_a[keep]
                ta = None if ta is None else ta[keep]
                if idx.numel() == 0:
                    break
            if project is not None:
                g = project(g, idx)
            if norm == "l2":
                scale = step_a / per_sample_norm(g, "l2").clamp_min(1e-12)
                v = torch.addcmul(v, g, per_sample(scale, g))
            else:
                v = torch.addcmul(v, g.sign(), per_sample(step_a, g))
            va = _back_into_ball(v, xa, eps_a, norm, lo, hi)
        if idx.numel() and va is not x_adv:  # steps 0: va is x_adv itself
            x_adv[idx] = va
        x_adv = x_adv.detach()
        delta = x_adv - x0
        check_ball(x_adv, x0, eps_t, norm, f"{norm} PGD")
        if random_start or steps > 0:  # the start x itself is the caller's
            check_box(x_adv, lo, hi, f"{norm} PGD")
        with torch.no_grad():
            success = margin_loss(model(x_adv), y, target) > 0
    taken = torch.where(success, taken, torch.full_like(taken, -1))
    return AttackResult(x_adv, success, taken, per_sample_norm(delta, norm))


def subspace_projector(basis: torch.Tensor, mode: str) -> Hook:
    """Hook for :func:`pgd`: project gradients on (``on``) or off (``off``) the span of
    per-sample orthonormal rows ``basis[i]`` of shape (k, n_features)."""
    if mode not in ("on", "off"):
        raise ValueError(f"mode must be 'on' or 'off', got {mode!r}")

    def hook(g: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        b = basis[idx].to(g)
        flat = g.flatten(1)
        on = torch.einsum("nk,nkf->nf", torch.einsum("nkf,nf->nk", b, flat), b)
        return (on if mode == "on" else flat - on).reshape(g.shape)

    return hook


def min_distance(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    norm: str = "l2",
    eps_max: float,
    rel_step: float = 0.05,
    steps: int = 50,
    bisections: int = 10,
    **kwargs,
) -> torch.Tensor:
    """Per-sample estimate of the distance to the decision boundary: bisection over
    eps in (0, eps_max]; at each eps a greedy PGD with step ``rel_step * eps``. The
    returned value is the norm of the closest adversarial example found (an upper
    bound on the true distance); ``inf`` where eps_max was not enough."""
    n = x.shape[0]
    lo = torch.zeros(n, dtype=x.dtype, device=x.device)
    hi = torch.full((n,), float(eps_max), dtype=x.dtype, device=x.device)
    best = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    first = pgd(model, x, y, norm=norm, eps=hi, step_size=hi * rel_step, steps=steps, **kwargs)
    best = torch.where(first.success, first.norm, best)
    hi = torch.where(first.success, torch.minimum(hi, first.norm.clamp_min(1e-12)), hi)
    active = first.success.clone()
    for _ in range(bisections):
        if not active.any():
            break
        mid = (lo + hi) / 2
        res = pgd(model, x, y, norm=norm, eps=mid, step_size=mid * rel_step, steps=steps, **kwargs)
        won = res.success & active
        best = torch.where(won, torch.minimum(best, res.norm), best)
        hi = torch.where(won, torch.minimum(mid, res.norm.clamp_min(1e-12)), hi)
        lo = torch.where(active & ~res.success, mid, lo)
    return best
