"""Model-shell defenses of Wu et al. ("Manifold assumption and defenses against
adversarial perturbations", Sec. 4-5): MCN_delta and NCN_p, their evaluation protocol,
and an adaptive attack the paper does not run.

A *factor model shell* G = F o H classifies ``x`` by first moving it with a search
factor H to a point where the base model F is confident, then applying F there:

* **MCN_delta** (Algorithm 1, eq. (1), (8)): for every label t find
  ``z_t = argmax_{z in N(x, delta) n [0, 1]^d} F(z)_t`` and keep the ``z_t`` with the
  highest ``F(z_t)_t``. Solved by projected gradient ascent on ``log F(z)_t``
  (:func:`mcn_search`).
* **NCN_p** (Algorithm 2, eq. (2), (9), (10)): for every label t find the nearest
  ``z`` with ``F(z)_t >= p`` by the quadratic penalty method and keep the nearest
  feasible ``z_t`` (:func:`ncn_search`).
* **CarliniWagnerShell** (Sec. 5, Remark 1): MCN_delta with a targeted Carlini-Wagner
  attack per label as the embedding O(x, F, t) (:func:`cw_search`), the paper's own
  shell; kind "cw".

``F(z)_t`` is always ``softmax(model(z))_t`` (the paper's F ends with a softmax; the
models here return logits). All N x C sub-problems (N samples, C labels) of a chunk are
solved as one batch; only ``z`` receives gradients. The functions do not change the
model's mode: pass it in eval mode (``evaluate`` does, via ``dmm.frozen``), or dropout
makes the searches random.

The paper argues the shells are non-differentiable and evaluates only attacks crafted
on the base model and transferred (Sec. 4 "Non-differentiability", Sec. 5).
:func:`bpda_attack` is the adaptive attack that this leaves out: BPDA (Athalye et al.
2018) with the identity as the backward pass of H. :func:`evaluate` runs the paper's
Section 5 protocol plus that attack and :func:`shell_metrics` summarises it over seeds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch import nn

from pipeline_lib.attacks import AttackResult, margin_loss, per_sample, per_sample_norm, pgd
from pipeline_lib.invariants import check_ball, check_box
from pipeline_lib.models import batched, frozen
from pipeline_lib.progress import bar
from pipeline_lib.stats import rate_stat, seed_stat
from pipeline_lib.zarr_io import var

Log = Callable[..., None]

NORMS = ("linf", "l2")
KINDS = ("mcn", "ncn", "cw")
SHELL_KEYS = {
    "mcn": ("delta", "norm", "steps", "step"),
    "ncn": ("p", "norm", "alphas", "steps", "lr"),
    "cw": ("delta", "confidence", "c", "binary_steps", "steps", "lr"),
}
ATTACK_KEYS = ("eps", "step", "steps", "restarts")
ADAPTIVE_KEYS = ("step", "steps", "restarts")
EXTRA_KEYS = {"apgd": ("steps", "restarts"), "square": ("queries", "p_init")}
IMAGE_DIMS = ("channel", "row", "col")

# Adam constants of the NCN inner optimiser; L2_SMOOTH makes |d|_2 differentiable at d = 0
_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-12
_L2_SMOOTH = 1e-8


@dataclass
class ShellResult:
    """Output of a shell on N points (all tensors on the input's device)."""

    z: torch.Tensor  # (N, *img) the embedding H(x)
    pred: torch.Tensor  # (N,) argmax F(z)
    conf: torch.Tensor  # (N,) max softmax F(z)
    target: torch.Tensor  # (N,) the label t whose sub-problem produced z
    dist: torch.Tensor  # (N,) |z - x| in the shell's norm
    feasible: torch.Tensor  # (N,) bool: NCN found F(z)_t >= p (always True for MCN)


# ----------------------------------------------------------------------------- helpers


def _quiet(*_a, **_k) -> None:
    return None


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def _increasing_positive(a: list[float]) -> bool:
    return len(a) > 0 and a[0] > 0 and bool(np.all(np.diff(a) > 0))


def _project_ball(d: torch.Tensor, radius: float, norm: str) -> torch.Tensor:
    if norm == "l2":
        scale = torch.clamp(radius / per_sample_norm(d, "l2").clamp_min(1e-12), max=1.0)
        return d * per_sample(scale, d)
    return d.clamp(-radius, radius)


def _expand(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One sub-problem per (sample, label): x repeated C times (row n*C + t) and t."""
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"need a non-empty batch (N, ...), got shape {tuple(x.shape)}")
    with torch.no_grad():
        c = int(model(x[:1]).shape[1])
    x0 = x.detach().repeat_interleave(c, 0)
    t = torch.arange(c, device=x.device).repeat(x.shape[0])
    return x0, t, c


def _log_conf(model: nn.Module, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """log F(z)_t per row (differentiable w.r.t. z)."""
    return torch.log_softmax(model(z), 1).gather(1, t[:, None])[:, 0]


# ----------------------------------------------------------------------------- searches


def _mcn(model, x, delta, norm, steps, step_size):
    """MCN search returning log F(z_t)_t (the log keeps ties apart where F rounds to 1)."""
    _check_norm(norm)
    if not delta > 0 or not step_size > 0 or steps < 0:
        raise ValueError(
            f"need delta > 0, step_size > 0 and steps >= 0; got {delta}, {step_size}, {steps}"
        )
    x0, t, c = _expand(model, x)
    z = x0.clone()
    best_z = x0.clone()
    best_lp = torch.full((x0.shape[0],), -math.inf, dtype=x0.dtype, device=x0.device)
    # Not attacks.pgd: the search keeps the best iterate of the whole path per (sample,
    # label) by log F(z)_t (pgd returns the last iterate, by the margin loss), and its l2
    # step ``z + step * (g / |g|)`` and projection ``x0 + d * min(1, delta / |d|)`` round
    # differently from pgd's fused ``addcmul`` forms, so the shells' z, pred and conf would
    # not stay bitwise equal (only the linf arithmetic coincides; one loop serves both).
    for it in range(steps + 1):
        with torch.enable_grad():
            zz = z.clone().requires_grad_(it < steps)
            lp = _log_conf(model, zz, t)
            better = lp.detach() > best_lp
            best_lp = torch.where(better, lp.detach(), best_lp)
            best_z[better] = z[better]
            if it == steps:
                break
            (g,) = torch.autograd.grad(lp.sum(), zz)
        if norm == "l2":
            step = g / per_sample(per_sample_norm(g, "l2").clamp_min(1e-12), g)
        else:
            step = g.sign()
        z = (x0 + _project_ball(z + step_size * step - x0, delta, norm)).clamp(0.0, 1.0)
    check_ball(best_z, x0, delta, norm, f"MCN search ({norm})")
    check_box(best_z, 0.0, 1.0, f"MCN search ({norm})")
    shape = (x.shape[0], c, *x.shape[1:])
    return best_z.reshape(shape), best_lp.reshape(x.shape[0], c)


def mcn_search(
    model: nn.Module,
    x: torch.Tensor,
    *,
    delta: float,
    norm: str,
    steps: int,
    step_size: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve eq. (8) for every label: ``z_t = argmax F(z)_t`` over the ``delta``-ball
    around ``x`` (``norm`` "linf" or "l2") intersected with the [0, 1] box.

    Projected gradient ascent on ``log F(z)_t`` (same maximiser as ``F(z)_t``, but its
    gradient does not vanish where ``F(z)_t`` is tiny), starting at ``x`` itself (no
    random start, so the search is deterministic): sign steps for linf, steps along the
    L2-normalised gradient for l2, each of length ``step_size``, then projection on the
    ball and the box. The best iterate per (sample, label) is kept (the start included),
    so ``conf[n, t] >= F(x_n)_t``.

    Returns ``z`` of shape (N, C, *img) and ``conf[n, t] = F(z[n, t])_t`` of shape (N, C).
    """
    z, lp = _mcn(model, x, delta, norm, steps, step_size)
    return z, lp.exp()


def _ncn(model, x, p, norm, alphas, steps, lr):
    """NCN search; also returns log F(z_t)_t."""
    _check_norm(norm)
    alphas = [float(a) for a in alphas]
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not _increasing_positive(alphas):
        raise ValueError(f"alphas must be a non-empty, strictly increasing list > 0: {alphas}")
    if not lr > 0 or steps < 0:
        raise ValueError(f"need lr > 0 and steps >= 0; got {lr}, {steps}")
    x0, t, c = _expand(model, x)
    m_all = x0.shape[0]
    z = x0.clone()
    found = x0.clone()  # first feasible iterate per problem
    feasible = torch.zeros(m_all, dtype=torch.bool, device=x0.device)
    found_lp = torch.full((m_all,), -math.inf, dtype=x0.dtype, device=x0.device)
    best_z = x0.clone()  # most confident iterate (the answer where never feasible)
    best_lp = found_lp.clone()
    log_p = math.log(p)
    m1 = torch.zeros_like(x0)
    m2 = torch.zeros_like(x0) if norm == "linf" else x0.new_zeros(m_all, 1)
    sum_dims = tuple(range(1, x0.ndim))

    def visit(alpha: float | None):
        """Check the active iterates; return (indices still infeasible, grad of Q there)."""
        idx = (~feasible).nonzero()[:, 0]
        if idx.numel() == 0:
            return idx, None
        with torch.enable_grad():
            zi = z[idx].clone().requires_grad_(alpha is not None)
            lp = _log_conf(model, zi, t[idx])
            lpd = lp.detach()
            better = lpd > best_lp[idx]
            best_lp[idx[better]] = lpd[better]
            best_z[idx[better]] = z[idx[better]]
            ok = lpd >= log_p
            feasible[idx[ok]] = True
            found[idx[ok]] = z[idx[ok]]
            found_lp[idx[ok]] = lpd[ok]
            if alpha is None or bool(ok.all()):
                return idx[~ok], None
            d = zi - x0[idx]
            if norm == "l2":
                dist = (d.pow(2).sum(sum_dims) + _L2_SMOOTH**2).sqrt() - _L2_SMOOTH
            else:
                dist = d.flatten(1).abs().amax(1)
            q = dist + 0.5 * alpha * torch.relu(p - lp.exp()).pow(2)
            (g,) = torch.autograd.grad(q[~ok].sum(), zi)
        return idx[~ok], g[~ok]

    # Not attacks.pgd: projected Adam on a quadratic-penalty objective (moments reset per
    # alpha, per-problem stop at the first feasible iterate), not signed / normalised
    # gradient steps in an eps-ball.
    for alpha in alphas:
        m1.zero_()
        m2.zero_()
        for k in range(1, steps + 1):
            idx, g = visit(alpha)
            if g is None:
                break
            m1[idx] = _BETA1 * m1[idx] + (1 - _BETA1) * g
            sq = g * g if norm == "linf" else (g * g).flatten(1).mean(1, keepdim=True)
            m2[idx] = _BETA2 * m2[idx] + (1 - _BETA2) * sq
            mhat = m1[idx] / (1 - _BETA1**k)
            vhat = m2[idx] / (1 - _BETA2**k)
            if norm == "l2":
                vhat = per_sample(vhat[:, 0], mhat)
            z[idx] = (z[idx] - lr * mhat / (vhat.sqrt() + _ADAM_EPS)).clamp(0.0, 1.0)
        if bool(feasible.all()):
            break
    visit(None)  # the last iterate of the last alpha
    f = per_sample(feasible, x0)
    z_out = torch.where(f, found, best_z)
    check_box(z_out, 0.0, 1.0, f"NCN search ({norm})")
    lp_out = torch.where(feasible, found_lp, best_lp)
    dist = per_sample_norm(z_out - x0, norm)
    n = x.shape[0]
    return (
        z_out.reshape(n, c, *x.shape[1:]),
        dist.reshape(n, c),
        feasible.reshape(n, c),
        lp_out.reshape(n, c),
    )


def ncn_search(
    model: nn.Module,
    x: torch.Tensor,
    *,
    p: float,
    norm: str,
    alphas: Sequence[float],
    steps: int,
    lr: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve eq. (9) for every label t: the nearest ``z`` (in ``norm``) with
    ``F(z)_t >= p``, by the quadratic penalty method of eq. (10).

    For each ``alpha`` of the increasing ``alphas`` (warm start from the previous
    alpha's iterate) take ``steps`` Adam steps of learning rate ``lr`` on
    ``Q(z) = |z - x| + alpha / 2 * max(p - F(z)_t, 0)^2``, clipping ``z`` to the box after
    every step (projected Adam; moments reset for each alpha). A problem stops at its
    first iterate with ``F(z)_t >= p``: the penalty path approaches the feasible set
    from outside, so the first feasible iterate is the nearest one found. Problems that
    are never feasible return their most confident iterate and ``feasible = False``.

    Eq. (10) as printed reads ``[F(z) - p]^-`` with ``[y]^- = max(y, 0)``, which would
    penalise the *feasible* side; the penalty used is the constraint violation
    ``max(p - F(z)_t, 0)`` that the text describes ("force the minimizer ... closer to
    the feasible region F(z) >= p"), with the label index t the equation omits.

    Choices:

    * Start at ``x`` itself (deterministic). The norm is not differentiable at
      ``z = x``; there its gradient is taken as 0, the minimal-norm subgradient (for l2
      via the smoothed norm ``sqrt(|d|^2 + s^2) - s``, ``s = 1e-8``, whose gradient is 0
      at ``d = 0`` and ``d / |d|`` elsewhere to float precision; for linf ``|d|_inf``'s
      autograd subgradient, 0 at ``d = 0`` and split between tied coordinates).
      The first step therefore follows the penalty alone, i.e. raises ``F(z)_t``.
    * linf: ordinary Adam (per-coordinate second moments: close to sign descent, the
      steepest descent of linf). l2: Adam with one second moment per problem (the mean
      of ``g^2`` over coordinates), which keeps the step along the gradient direction
      and makes the search rotation invariant, as an l2 problem should be. In both
      cases ``lr`` is the root-mean-square step per coordinate; the distance of the
      first feasible iterate overshoots the level set by at most about one step.
    * The penalty acts on ``F`` itself as in eq. (10), so its gradient vanishes where
      ``F(z)_t`` is tiny: labels that are far from confident stay infeasible, which is
      harmless for Algorithm 2 (they would be far anyway).

    Returns ``z`` (N, C, *img), ``dist`` (N, C) = ``|z - x|`` in ``norm``, and
    ``feasible`` (N, C) bool.
    """
    z, dist, feasible, _ = _ncn(model, x, p, norm, alphas, steps, lr)
    return z, dist, feasible


def _cw(model, x, delta, confidence, c0, binary_steps, steps, lr):
    """CW search; returns (z, log F(z_t)_t, reached) with z of shape (N*C, *img)."""
    if not delta > 0 or not c0 > 0 or not lr > 0 or steps < 1 or binary_steps < 1:
        raise ValueError(
            f"need delta > 0, c > 0, lr > 0, steps >= 1 and binary_steps >= 1; got {delta}, "
            f"{c0}, {lr}, {steps}, {binary_steps}"
        )
    x0, t, _ = _expand(model, x)
    m = x0.shape[0]
    lo, hi = (x0 - delta).clamp(0.0, 1.0), (x0 + delta).clamp(0.0, 1.0)
    span = hi - lo
    # tanh box of Carlini & Wagner, on the intersection of the delta-ball and [0, 1]
    u = ((x0 - lo) / span).clamp(0.0, 1.0)
    w0 = torch.atanh((2 * u - 1) * (1 - 1e-6))
    sum_dims = tuple(range(1, x0.ndim))

    def point(w: torch.Tensor) -> torch.Tensor:
        return lo + span * (torch.tanh(w) + 1) / 2

    def gap(logits: torch.Tensor) -> torch.Tensor:
        """Best other logit minus t's (< 0: t leads)."""
        own = logits.gather(1, t[:, None])[:, 0]
        return logits.scatter(1, t[:, None], -math.inf).amax(1) - own

    c = torch.full((m,), float(c0), dtype=x0.dtype, device=x0.device)
    c_lo = torch.zeros_like(c)
    c_hi = torch.full_like(c, math.inf)
    best_d = torch.full_like(c, math.inf)
    best_z = x0.clone()
    last_z = x0.clone()
    # Not attacks.pgd: CW minimises |z - x|^2 + c * hinge over an unconstrained w (tanh
    # box, Adam), restarting for every c of a per-problem binary search, and keeps the
    # closest successful iterate; pgd takes projected steps in a fixed ball.
    for _ in range(binary_steps):
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr)
        won = torch.zeros(m, dtype=torch.bool, device=x0.device)
        for _ in range(steps):
            with torch.enable_grad():
                z = point(w)
                g = gap(model(z))
                d2 = (z - x0).pow(2).sum(sum_dims)
                opt.zero_grad()
                (d2 + c * g.clamp_min(-confidence)).sum().backward()
            with torch.no_grad():
                ok = (g < 0) & (g <= -confidence)
                closer = ok & (d2 < best_d)
                best_d = torch.where(closer, d2, best_d)
                best_z[closer] = z[closer].detach()
                won |= ok
            opt.step()
        with torch.no_grad():
            last_z = point(w)
            c_hi = torch.where(won, torch.minimum(c_hi, c), c_hi)
            c_lo = torch.where(won, c_lo, torch.maximum(c_lo, c))
            c = torch.where(torch.isfinite(c_hi), (c_lo + c_hi) / 2, c * 10)
    reached = torch.isfinite(best_d)
    z_out = torch.where(per_sample(reached, x0), best_z, last_z)
    check_ball(z_out, x0, delta, "linf", "CW search")
    check_box(z_out, 0.0, 1.0, "CW search")
    with torch.no_grad():
        lp = _log_conf(model, z_out, t)
    return z_out, lp, reached


def cw_search(
    model: nn.Module,
    x: torch.Tensor,
    *,
    delta: float,
    confidence: float,
    c: float,
    binary_steps: int,
    steps: int,
    lr: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CarliniWagnerShell's embedding (Sec. 5, Remark 1): for every label t a
    targeted Carlini-Wagner L2 attack ``z_t = CW(x, F, t)`` (Carlini & Wagner 2017, their
    f6 objective on the logits Z): minimise ``|z - x|_2^2 + c * max(max_{i != t} Z(z)_i -
    Z(z)_t, -confidence)`` over ``z = lo + (hi - lo) (tanh(w) + 1) / 2``, where [lo, hi] is
    the linf ``delta``-ball around x cut to [0, 1] (so z never leaves MCN_delta's
    neighbourhood N(x, delta) or the image box), by ``steps`` Adam steps of rate ``lr``
    from ``z = x`` for each of ``binary_steps`` values of c (CW's binary search per
    problem: halve towards the last failure after a success, times 10 while it fails,
    starting from ``c``). The closest iterate where t leads by more than ``confidence``
    (``> 0`` when it is 0) is the answer; a label never reached returns the last iterate
    of the last c.

    The paper weakens CW for speed (footnote 2) without saying how; these settings are
    the config's (``shells.<dataset>.cw``).

    Returns ``z`` (N, C, *img), ``conf[n, t] = F(z[n, t])_t`` (N, C) and ``reached`` (N, C)
    bool.
    """
    z, lp, reached = _cw(model, x, delta, confidence, c, binary_steps, steps, lr)
    n, k = x.shape[0], lp.numel() // x.shape[0]
    return z.reshape(n, k, *x.shape[1:]), lp.exp().reshape(n, k), reached.reshape(n, k)


# ----------------------------------------------------------------------------- shells


def check_shell_cfg(cfg: dict) -> dict:
    """Validate a shell config; return it with numbers cast (a new dict).

    ``kind`` "mcn": keys delta (> 0), norm (linf | l2), steps (>= 1), step (> 0);
    ``kind`` "ncn": keys p (in (0, 1)), norm, alphas (strictly increasing, > 0),
    steps (>= 1), lr (> 0); ``kind`` "cw": delta (> 0, linf), confidence (>= 0), c (> 0),
    binary_steps (>= 1), steps (>= 1), lr (> 0). Missing or unknown keys are errors.
    """
    if not isinstance(cfg, dict):
        raise ValueError(f"shell config must be a dict, got {type(cfg).__name__}")
    kind = cfg.get("kind")
    if kind not in KINDS:
        raise ValueError(f"shell kind must be one of {KINDS}, got {kind!r}")
    # a checked cw config records its norm (linf, the ball its tanh box spans)
    allowed = {"kind", *SHELL_KEYS[kind]} | ({"norm"} if kind == "cw" else set())
    missing = [k for k in SHELL_KEYS[kind] if k not in cfg]
    unknown = sorted(set(cfg) - allowed)
    if missing or unknown:
        raise ValueError(
            f"{kind} shell config: missing keys {missing}, unknown keys {unknown}; "
            f"allowed: {sorted(allowed)}"
        )
    if kind == "cw":
        if cfg.get("norm", "linf") != "linf":
            raise ValueError(f"cw shell: norm must be linf (its box), got {cfg['norm']!r}")
        out = {
            "kind": kind,
            "norm": "linf",
            "delta": float(cfg["delta"]),
            "confidence": float(cfg["confidence"]),
            "c": float(cfg["c"]),
            "binary_steps": int(cfg["binary_steps"]),
            "steps": int(cfg["steps"]),
            "lr": float(cfg["lr"]),
        }
        for k, ok in (
            ("delta", out["delta"] > 0),
            ("confidence", out["confidence"] >= 0),
            ("c", out["c"] > 0),
            ("binary_steps", out["binary_steps"] >= 1),
            ("steps", out["steps"] >= 1),
            ("lr", out["lr"] > 0),
        ):
            if not ok:
                raise ValueError(f"cw shell: {k} out of range, got {cfg[k]}")
        return out
    _check_norm(cfg["norm"])
    out = {"kind": kind, "norm": cfg["norm"], "steps": int(cfg["steps"])}
    if out["steps"] < 1:
        raise ValueError(f"{kind} shell: steps must be >= 1, got {cfg['steps']}")
    if kind == "mcn":
        out["delta"], out["step"] = float(cfg["delta"]), float(cfg["step"])
        if not out["delta"] > 0:
            raise ValueError(f"mcn shell: delta must be > 0, got {cfg['delta']}")
        if not out["step"] > 0:
            raise ValueError(f"mcn shell: step must be > 0, got {cfg['step']}")
    else:
        out["p"], out["lr"] = float(cfg["p"]), float(cfg["lr"])
        out["alphas"] = [float(a) for a in cfg["alphas"]]
        if not 0 < out["p"] < 1:
            raise ValueError(f"ncn shell: p must be in (0, 1), got {cfg['p']}")
        if not out["lr"] > 0:
            raise ValueError(f"ncn shell: lr must be > 0, got {cfg['lr']}")
        a = out["alphas"]
        if not _increasing_positive(a):
            raise ValueError(f"ncn shell: alphas must be strictly increasing and > 0, got {a}")
    return out


def _shell_chunk(model: nn.Module, x: torch.Tensor, cfg: dict) -> ShellResult:
    n = x.shape[0]
    rows = torch.arange(n, device=x.device)
    if cfg["kind"] == "mcn":
        z, lp = _mcn(model, x, cfg["delta"], cfg["norm"], cfg["steps"], cfg["step"])
        target = lp.argmax(1)
        feasible = torch.ones(n, dtype=torch.bool, device=x.device)
    elif cfg["kind"] == "cw":
        z, lp, _ = _cw(
            model, x, cfg["delta"], cfg["confidence"], cfg["c"], cfg["binary_steps"],
            cfg["steps"], cfg["lr"],
        )  # fmt: skip
        z, lp = z.reshape(n, -1, *x.shape[1:]), lp.reshape(n, -1)
        target = lp.argmax(1)
        feasible = torch.ones(n, dtype=torch.bool, device=x.device)
    else:
        z, dist, feas, lp = _ncn(
            model, x, cfg["p"], cfg["norm"], cfg["alphas"], cfg["steps"], cfg["lr"]
        )
        nearest = torch.where(feas, dist, torch.full_like(dist, math.inf)).argmin(1)
        feasible = feas.any(1)
        target = torch.where(feasible, nearest, lp.argmax(1))
    z_star = z[rows, target]
    with torch.no_grad():
        prob = torch.softmax(model(z_star), 1)
    conf, pred = prob.max(1)
    return ShellResult(
        z=z_star.detach(),
        pred=pred,
        conf=conf,
        target=target,
        dist=per_sample_norm(z_star - x, cfg["norm"]),
        feasible=feasible,
    )


def shell(model: nn.Module, x: torch.Tensor, cfg: dict, *, batch: int = 64) -> ShellResult:
    """The factor model shell ``F(H(x))`` of ``cfg["kind"]``:

    * "mcn" (Algorithm 1): ``t* = argmax_t F(z_t)_t`` over :func:`mcn_search`'s
      ``z_t`` (ties broken by ``log F`` and then by the lower label); ``feasible`` True.
    * "cw" (Algorithm 1 with CW as O, the paper's CarliniWagnerShell): the same over
      :func:`cw_search`'s ``z_t``.
    * "ncn" (Algorithm 2): among the labels with ``F(z_t)_t >= p`` the one with the
      smallest ``|z_t - x|`` (:func:`ncn_search`); a sample without any feasible label
      falls back to its most confident ``z_t`` and gets ``feasible = False``.

    ``pred``/``conf`` are argmax / max of ``F(z)`` at the chosen ``z`` (normally
    ``target``, but a local search may leave another class higher there). ``x`` is
    processed in chunks of ``batch`` samples (``batch * C`` sub-problems at a time);
    only ``z`` receives gradients. See :func:`check_shell_cfg` for ``cfg``.
    """
    cfg = check_shell_cfg(cfg)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    x = x.detach()
    parts = [_shell_chunk(model, x[i : i + batch], cfg) for i in range(0, x.shape[0], batch)]
    if not parts:
        raise ValueError("shell needs at least one point")
    return ShellResult(
        *(torch.cat([getattr(r, f) for r in parts]) for f in ShellResult.__dataclass_fields__)
    )


# ----------------------------------------------------------------------------- attacks


_START_TOL = 1e-6  # float32 rounding of x0 + delta may exceed eps by an ulp


def _bpda(
    model, x, y, cfg, eps, step_size, steps, restarts, generator, start, batch, start_result=None
):
    """:func:`bpda_attack`, also returning the shell's result on the returned x_adv.

    ``start_result``: the shell's result on ``start`` when the caller has it already
    (the transfer evaluation); used for the first iterate instead of a second identical
    shell call when ``start`` lies in the ball and the box (so it is not moved)."""
    cfg = check_shell_cfg(cfg)
    if not eps >= 0 or not step_size > 0 or steps < 0 or restarts < 1:
        raise ValueError(
            "need eps >= 0, step_size > 0, steps >= 0, restarts >= 1; got "
            f"{eps}, {step_size}, {steps}, {restarts}"
        )
    x0 = x.detach()
    n = x0.shape[0]
    done = torch.zeros(n, dtype=torch.bool, device=x0.device)
    x_adv = x0.clone()
    best_margin = torch.full((n,), -math.inf, dtype=x0.dtype, device=x0.device)
    taken = torch.full((n,), -1, dtype=torch.long, device=x0.device)

    def project(v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return (x0[idx] + (v - x0[idx]).clamp(-eps, eps)).clamp(0.0, 1.0)

    # Not attacks.pgd: the gradient is taken at the shell's point z = H(x') (BPDA,
    # straight-through), not at x'; success is the shell's prediction (from its own
    # chunked forward passes) rather than the margin at the iterate, and the kept point
    # is the first success or else the best margin over all restarts' iterates. The
    # margin's gradient comes from autograd (split between tied classes), unlike pgd's
    # margin_and_grad. The linf step and projection are pgd's arithmetic, but the loop
    # cannot be expressed through it without changing results.
    for r in range(restarts):
        idx = (~done).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        first = None
        if r == 0 and start is not None:
            cur = start.detach()[idx].to(x0)
            # the base attack's own point: in the ball up to its float32 rounding
            inside = ((cur - x0[idx]).abs() <= eps + _START_TOL) & (cur >= 0.0) & (cur <= 1.0)
            if bool(inside.all()):
                first = start_result  # restart 0 covers every sample: same rows as start
            else:
                cur = project(cur, idx)
        elif r == 0:
            cur = x0[idx].clone()
        else:
            u = torch.rand(x0[idx].shape, generator=generator, device="cpu").to(x0)
            cur = project(x0[idx] + (2 * u - 1) * eps, idx)
        for it in range(steps + 1):
            res = first if it == 0 and first is not None else shell(model, cur, cfg, batch=batch)
            won = res.pred != y[idx]
            with torch.enable_grad():
                z = res.z.clone().requires_grad_(it < steps)
                margin = margin_loss(model(z), y[idx])
            md = margin.detach()
            better = won | (md > best_margin[idx])
            better &= ~done[idx]
            x_adv[idx[better]] = cur[better]
            best_margin[idx[better]] = torch.where(won[better], math.inf, md[better])
            done[idx[won]] = True
            taken[idx[won]] = it
            keep = ~won
            if it == steps or not bool(keep.any()):
                break
            (g,) = torch.autograd.grad(margin.sum(), z)  # straight-through: dH/dx := I
            idx, cur = idx[keep], cur[keep]
            cur = project(cur + step_size * g[keep].sign(), idx)
    # a start taken as is may sit outside the ball by its float32 rounding
    check_ball(x_adv, x0, eps + _START_TOL, "linf", "BPDA attack on the shelled model")
    check_box(x_adv, 0.0, 1.0, "BPDA attack on the shelled model")
    final = shell(model, x_adv, cfg, batch=batch)
    success = final.pred != y
    taken = torch.where(success, taken, torch.full_like(taken, -1))
    out = AttackResult(x_adv, success, taken, per_sample_norm(x_adv - x0, "linf"))
    return out, final


def bpda_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    shell_cfg: dict,
    *,
    eps: float,
    step_size: float,
    steps: int,
    restarts: int,
    generator: torch.Generator | None,
    start: torch.Tensor | None = None,
    batch: int = 64,
) -> AttackResult:
    """Adaptive untargeted L-inf attack on the shelled model ``G = F o H``.

    BPDA with the identity as the backward pass of the search: at an iterate ``x'``
    compute ``z = H(x')`` by :func:`shell` (no gradient through the search), take the
    gradient of the margin loss ``max_{j != y} Z_j(z) - Z_y(z)`` of F at ``z`` and use it
    as the gradient w.r.t. ``x'``; then a sign step of ``step_size`` and projection on
    the ``eps``-ball around ``x`` and the [0, 1] box. A sample is adversarial when the
    shell's prediction at ``x'`` differs from ``y``; it is checked at every iterate (the
    start included) and a sample stops at its first adversarial iterate.

    Restart 0 starts at ``start`` (e.g. the base-model attack's point, so the adaptive
    attack is never weaker than the transfer attack) or at ``x``; restarts 1.. start
    uniformly at random in the ball (``generator``, drawn on the CPU). Where no iterate
    was adversarial the returned ``x_adv`` is the iterate with the largest margin at
    ``H(x')``. ``success`` is re-verified by a final shell call on ``x_adv``; ``steps``
    is the iteration (within its restart) of the first success, -1 if none; ``norm`` is
    ``|x_adv - x|_inf``.
    """
    return _bpda(model, x, y, shell_cfg, eps, step_size, steps, restarts, generator, start, batch)[
        0
    ]


def apgd_checkpoints(steps: int) -> list[int]:
    """APGD's checkpoints (Croce & Hein 2020): iterations ``ceil(p_j steps)`` with
    ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    # ceil, without the float sums' last-digit excess (0.41 + 0.16 = 0.5700000000000001)
    return sorted({int(math.ceil(round(q * steps, 9))) for q in p[1:]} - {0})


def _shell_margin(model, cur, y, cfg, batch, grad: bool):
    """The shell's prediction at ``cur``, the margin ``max_{j != y} Z_j - Z_y`` of F at
    ``z = H(cur)`` and, with ``grad``, its gradient w.r.t. ``z`` (BPDA: dH/dx := I)."""
    res = shell(model, cur, cfg, batch=batch)
    with torch.enable_grad():
        z = res.z.clone().requires_grad_(grad)
        margin = margin_loss(model(z), y)
        g = torch.autograd.grad(margin.sum(), z)[0] if grad else None
    return res, margin.detach(), g


def apgd_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    shell_cfg: dict,
    *,
    eps: float,
    steps: int,
    restarts: int,
    generator: torch.Generator | None,
    start: torch.Tensor | None = None,
    batch: int = 64,
    rho: float = 0.75,
    alpha: float = 0.75,
) -> tuple[AttackResult, ShellResult]:
    """APGD (Croce & Hein 2020, L-inf, margin loss) through the BPDA-wrapped shell.

    The gradient at an iterate ``x'`` is the margin's gradient at ``z = H(x')`` (as
    :func:`bpda_attack`); the step size starts at ``2 eps`` per point and is halved at a
    checkpoint (:func:`apgd_checkpoints`) when fewer than ``rho`` of the steps since the
    last one raised the margin, or when neither the step size nor the best margin changed
    since then; the iterate then restarts from the best point. Steps use APGD's momentum
    ``alpha``. A point stops at its first iterate where the shell's prediction is wrong.
    Restart 0 starts at ``start`` (projected; e.g. the base attack's point), the others
    uniformly in the ball (``generator``). Returns the attack result (``steps``: the
    iteration of the first success, -1 if none) and the shell's result at ``x_adv``.
    """
    cfg = check_shell_cfg(shell_cfg)
    if not eps >= 0 or steps < 1 or restarts < 1:
        raise ValueError(
            f"need eps >= 0, steps >= 1, restarts >= 1; got {eps}, {steps}, {restarts}"
        )
    x0 = x.detach()
    n = x0.shape[0]
    dims = (-1,) + (1,) * (x0.ndim - 1)
    x_adv = x0.clone()
    best_all = torch.full((n,), -math.inf, dtype=x0.dtype, device=x0.device)
    done = torch.zeros(n, dtype=torch.bool, device=x0.device)
    taken = torch.full((n,), -1, dtype=torch.long, device=x0.device)
    ckpts = set(apgd_checkpoints(steps))

    def project(v, idx):
        return (x0[idx] + (v - x0[idx]).clamp(-eps, eps)).clamp(0.0, 1.0)

    for r in range(restarts):
        idx = (~done).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        if r == 0 and start is not None:
            cur = project(start.detach()[idx].to(x0), idx)
        elif r == 0:
            cur = x0[idx].clone()
        else:
            u = torch.rand(x0[idx].shape, generator=generator, device="cpu").to(x0)
            cur = project(x0[idx] + (2 * u - 1) * eps, idx)
        eta = torch.full((len(idx),), 2.0 * eps, dtype=x0.dtype, device=x0.device)
        res, f, g = _shell_margin(model, cur, y[idx], cfg, batch, True)
        best_f, best_x = f.clone(), cur.clone()
        prev = cur.clone()
        since = torch.zeros(len(idx), device=x0.device)  # margin rises since the checkpoint
        f_at_ckpt, eta_at_ckpt, last_ckpt = best_f.clone(), eta.clone(), 0
        live = torch.ones(len(idx), dtype=torch.bool, device=x0.device)

        def record(k, res, f, cur, idx=idx, live=live):
            won = (res.pred != y[idx]) & live
            better = (won | (f > best_all[idx])) & live & ~done[idx]
            x_adv[idx[better]] = cur[better]
            best_all[idx[better]] = torch.where(won[better], math.inf, f[better])
            done[idx[won]] = True
            taken[idx[won]] = k
            live.logical_and_(~won)

        record(0, res, f, cur)
        for k in range(1, steps + 1):
            if not bool(live.any()):
                break
            step = eta.view(dims) * g.sign()
            if k == 1:
                new = project(cur + step, idx)
            else:
                zk = project(cur + step, idx)
                new = project(cur + alpha * (zk - cur) + (1 - alpha) * (cur - prev), idx)
            new = torch.where(live.view(dims), new, cur)
            res, f_new, g = _shell_margin(model, new, y[idx], cfg, batch, k < steps)
            since += (f_new > f).float()
            prev, cur, f = cur, new, f_new
            improved = f > best_f
            best_f = torch.where(improved, f, best_f)
            best_x = torch.where(improved.view(dims), cur, best_x)
            record(k, res, f, cur)
            if k in ckpts and k < steps:
                cond1 = since < rho * (k - last_ckpt)
                cond2 = (eta_at_ckpt == eta) & (f_at_ckpt == best_f)
                halve = (cond1 | cond2) & live
                eta = torch.where(halve, eta / 2, eta)
                # restart the halved ones from their best point (its gradient next step)
                if bool(halve.any()):
                    cur = torch.where(halve.view(dims), best_x, cur)
                    prev = torch.where(halve.view(dims), best_x, prev)
                    f = torch.where(halve, best_f, f)
                    res, _, g2 = _shell_margin(model, cur, y[idx], cfg, batch, True)
                    g = torch.where(halve.view(dims), g2, g)
                since.zero_()
                f_at_ckpt, eta_at_ckpt, last_ckpt = best_f.clone(), eta.clone(), k
    check_ball(x_adv, x0, eps + _START_TOL, "linf", "APGD attack on the shelled model")
    check_box(x_adv, 0.0, 1.0, "APGD attack on the shelled model")
    final = shell(model, x_adv, cfg, batch=batch)
    success = final.pred != y
    taken = torch.where(success, taken, torch.full_like(taken, -1))
    return AttackResult(x_adv, success, taken, per_sample_norm(x_adv - x0, "linf")), final


def square_p(i: int, queries: int, p_init: float) -> float:
    """Square's fraction of pixels changed at query ``i`` of ``queries``: ``p_init``
    halved at the paper's iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of
    10 000, rescaled to ``queries`` (Andriushchenko et al. 2020)."""
    t = int(i * 10_000 / max(queries, 1))
    cuts = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
    return p_init / 2 ** sum(t > c for c in cuts)


def square_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    shell_cfg: dict,
    *,
    eps: float,
    queries: int,
    p_init: float,
    generator: torch.Generator,
    batch: int = 64,
) -> tuple[AttackResult, ShellResult]:
    """Square attack (Andriushchenko et al. 2020, L-inf): gradient-free random search on
    the shelled model, reading only its output (the margin of F at ``H(x')``).

    Start: vertical stripes of ``+-eps`` (per point, channel and column). Each further
    query redraws one random square window of side ``round(sqrt(p h w))`` (``p`` from
    :func:`square_p`) to ``x + eps * (+-1 per channel)``, clipped to [0, 1], and keeps
    it where the margin rises. A point stops at its first query where the shell's
    prediction is wrong. Random draws from ``generator`` (CPU). Returns the attack
    result (``steps``: the query of the first success, -1 if none) and the shell's
    result at ``x_adv``."""
    cfg = check_shell_cfg(shell_cfg)
    if not eps >= 0 or queries < 1 or not 0 < p_init <= 1:
        raise ValueError(
            f"need eps >= 0, queries >= 1, 0 < p_init <= 1; got {eps}, {queries}, {p_init}"
        )
    x0 = x.detach()
    n, c, h, w = x0.shape

    def rnd_sign(*shape):
        return (torch.rand(shape, generator=generator) < 0.5).to(x0) * 2 - 1

    cur = (x0 + eps * rnd_sign(n, c, 1, w)).clamp(0.0, 1.0)
    res, f, _ = _shell_margin(model, cur, y, cfg, batch, False)
    done = res.pred != y
    taken = torch.where(done, 0, -1).to(torch.long)
    for i in range(1, queries):
        idx = (~done).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        side = int(round(math.sqrt(square_p(i, queries, p_init) * h * w)))
        side = max(1, min(side, h - 1, w - 1))
        rows = torch.randint(0, h - side + 1, (len(idx),), generator=generator)
        cols = torch.randint(0, w - side + 1, (len(idx),), generator=generator)
        signs = rnd_sign(len(idx), c, 1, 1)
        new = cur[idx].clone()
        for j in range(len(idx)):
            r0, c0 = int(rows[j]), int(cols[j])
            win = (slice(None), slice(r0, r0 + side), slice(c0, c0 + side))
            new[j][win] = (x0[idx[j]][win] + eps * signs[j]).clamp(0.0, 1.0)
        res, f_new, _ = _shell_margin(model, new, y[idx], cfg, batch, False)
        won = res.pred != y[idx]
        keep = won | (f_new > f[idx])
        cur[idx[keep]] = new[keep]
        f[idx[keep]] = f_new[keep]
        done[idx[won]] = True
        taken[idx[won]] = i
    check_ball(cur, x0, eps + _START_TOL, "linf", "Square attack on the shelled model")
    final = shell(model, cur, cfg, batch=batch)
    success = final.pred != y
    taken = torch.where(success, taken, torch.full_like(taken, -1))
    return AttackResult(cur, success, taken, per_sample_norm(cur - x0, "linf")), final


def _base_attack(model, x, y, cfg: dict, generator) -> AttackResult:
    """Untargeted L-inf PGD (margin loss, the project's :func:`pgd`) with restarts:
    restart 0 from x, the others from a random point; a point is adversarial if any
    restart succeeds."""
    x_adv = x.clone()
    success = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for r in range(cfg["restarts"]):
        idx = (~success).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        res = pgd(
            model,
            x[idx],
            y[idx],
            norm="linf",
            eps=cfg["eps"],
            step_size=cfg["step"],
            steps=cfg["steps"],
            random_start=r > 0,
            generator=generator,
        )
        x_adv[idx] = res.x_adv
        success[idx] = res.success
    return AttackResult(x_adv, success, torch.zeros_like(y), per_sample_norm(x_adv - x, "linf"))


# ----------------------------------------------------------------------------- evaluation


def _check_keys(name: str, cfg: dict, keys: tuple[str, ...]) -> dict:
    missing = [k for k in keys if k not in cfg]
    unknown = sorted(set(cfg) - set(keys))
    if missing or unknown:
        raise ValueError(f"{name} config: missing keys {missing}, unknown keys {unknown}")
    out = {k: cfg[k] for k in keys}
    for k in ("steps", "restarts", "queries"):
        if k in out:
            out[k] = int(out[k])
            if out[k] < 1:
                raise ValueError(f"{name} config: {k} must be >= 1: {cfg}")
    if "step" in out and not out["step"] > 0:
        raise ValueError(f"{name} config: step must be > 0: {cfg}")
    if "p_init" in out and not 0 < out["p_init"] <= 1:
        raise ValueError(f"{name} config: p_init must be in (0, 1]: {cfg}")
    if "eps" in out and not out["eps"] > 0:
        raise ValueError(f"{name} config: eps must be > 0, got {out['eps']}")
    return out


def _predict(model, x: torch.Tensor, device, batch: int = 1024) -> torch.Tensor:
    return batched(model, x, batch, lambda out: out.argmax(1).cpu(), device)


def _select_points(model, x, y, need: int, seed: int, device) -> tuple[np.ndarray, int, int]:
    """Walk a seeded permutation of the test set, keeping correctly classified points."""
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    kept: list[int] = []
    skipped = walked = 0
    for s in range(0, len(perm), 1024):
        idx = perm[s : s + 1024]
        ok = (_predict(model, x[idx], device) == y[idx]).tolist()
        for i, good in zip(idx.tolist(), ok, strict=True):
            walked += 1
            if good:
                kept.append(i)
            else:
                skipped += 1
            if len(kept) == need:
                return np.asarray(kept), skipped, walked
    raise ValueError(
        f"the test set has only {len(kept)} correctly classified points "
        f"({skipped} misclassified of {x.shape[0]}); n_batches * batch_size = {need} needed"
    )


def evaluate(
    model: nn.Module,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    shells: dict[str, dict],
    attack: dict,
    adaptive: dict,
    n_batches: int,
    batch_size: int,
    seed: int,
    device: torch.device | str,
    log: Log | None = None,
    extra: dict[str, dict] | None = None,
) -> xr.Dataset:
    """The paper's Section 5 protocol for one base model, plus the adaptive attacks.

    1. A permutation of the test set (``torch.randperm`` seeded with ``seed``) is walked
       in order; misclassified points are skipped (counted in attr ``n_skipped``) until
       ``n_batches * batch_size`` correctly classified points are found (ValueError if
       the test set runs out). Batch b holds the kept points ``b*batch_size ...``.
    2. Base attack per batch: untargeted L-inf PGD on the margin (CW-style) loss,
       ``attack`` = {eps, step, steps, restarts}: restart 0 from x, the others from a
       random point of the ball (generator seeded ``seed + 1``); per-sample early stop
       (like the paper's minimal-perturbation CW attack, the point is just across the
       boundary); a point is attacked successfully if any restart succeeds and then
       keeps that restart's x_adv (otherwise the last restart's).
    3. For each shell name (config as :func:`check_shell_cfg`): the shell on clean x
       (retained accuracy), on the base x_adv (transfer; success = shell prediction
       != label; ``changed`` = shell prediction differs between x and x_adv, the paper's
       "not robust"), and :func:`bpda_attack` with ``adaptive`` = {steps, step,
       restarts} at the same eps, restart 0 from the base x_adv (generator seeded
       ``seed + 2 + shell position``).
    4. ``extra``: more adaptive attacks on each shell at the same eps, by name:
       ``apgd`` = {steps, restarts} (:func:`apgd_attack`, restart 0 from the base
       x_adv; generator ``seed + 100 + shell position``) and ``square`` = {queries,
       p_init} (:func:`square_attack`, gradient-free; generator ``seed + 200 + shell
       position``). ``worst_success`` is the worst case per point over the transfer
       attack, BPDA and these.

    Dataset: dims ``point`` (n_batches * batch_size), ``shell``, ``channel``, ``row``,
    ``col``; coords point, shell, shell_kind (shell), test_index (point; index into
    x_test), batch (point), image dims. Variables: label, image, base_pred, base_conf,
    base_adv_success, base_adv, base_adv_pred, base_adv_conf, base_adv_linf;
    shell_clean_{pred,conf,target,feasible,dist,z}; shell_adv_{pred,conf,target,
    feasible,dist,z,success,changed}; adaptive_{success,adv,pred,conf,linf,steps}; per
    extra attack ``a``: {a}_{success,adv,pred,linf,steps}; worst_success.
    Attrs: seed, eps, n_batches, batch_size, n_skipped, n_walked, and the configs as
    JSON strings (attack, adaptive, shells).
    """
    log = log or _quiet
    if n_batches < 1 or batch_size < 1:
        raise ValueError(f"need n_batches >= 1 and batch_size >= 1, got {n_batches}, {batch_size}")
    if not shells:
        raise ValueError("no shells to evaluate")
    shell_cfgs = {name: check_shell_cfg(c) for name, c in shells.items()}
    atk = _check_keys("attack", attack, ATTACK_KEYS)
    ada = _check_keys("adaptive", adaptive, ADAPTIVE_KEYS)
    extra = {a: _check_keys(a, c, EXTRA_KEYS[a]) for a, c in (extra or {}).items()}
    x_all = torch.as_tensor(x_test, dtype=torch.float32).cpu()
    y_all = torch.as_tensor(y_test).long().cpu()
    if x_all.ndim != 4 or y_all.shape != (x_all.shape[0],):
        raise ValueError(
            f"need x_test (N, C, H, W) and y_test (N,), got {x_all.shape}, {y_all.shape}"
        )
    device = torch.device(device)
    model = frozen(model, device)
    need = n_batches * batch_size
    idx, n_skipped, n_walked = _select_points(model, x_all, y_all, need, seed, device)
    log(f"selected {need} correctly classified points ({n_skipped} misclassified skipped)")
    x_sel, y_sel = x_all[idx], y_all[idx]
    names = list(shell_cfgs)
    n_sh = len(names)
    img = tuple(x_sel.shape[1:])

    def arr(shape, dtype):
        return np.zeros(shape, dtype=dtype)

    out: dict[str, np.ndarray] = {
        "base_pred": arr(need, np.int64),
        "base_conf": arr(need, np.float32),
        "base_adv_success": arr(need, bool),
        "base_adv": arr((need, *img), np.float32),
        "base_adv_pred": arr(need, np.int64),
        "base_adv_conf": arr(need, np.float32),
        "base_adv_linf": arr(need, np.float32),
    }
    for stage in ("shell_clean", "shell_adv"):
        out[f"{stage}_pred"] = arr((n_sh, need), np.int64)
        out[f"{stage}_conf"] = arr((n_sh, need), np.float32)
        out[f"{stage}_target"] = arr((n_sh, need), np.int64)
        out[f"{stage}_feasible"] = arr((n_sh, need), bool)
        out[f"{stage}_dist"] = arr((n_sh, need), np.float32)
        out[f"{stage}_z"] = arr((n_sh, need, *img), np.float32)
    for k, dt in (("success", bool), ("pred", np.int64), ("conf", np.float32)):
        out[f"adaptive_{k}"] = arr((n_sh, need), dt)
    out["adaptive_linf"] = arr((n_sh, need), np.float32)
    out["adaptive_steps"] = arr((n_sh, need), np.int64)
    out["adaptive_adv"] = arr((n_sh, need, *img), np.float32)
    for a in extra:
        out[f"{a}_success"] = arr((n_sh, need), bool)
        out[f"{a}_pred"] = arr((n_sh, need), np.int64)
        out[f"{a}_linf"] = arr((n_sh, need), np.float32)
        out[f"{a}_steps"] = arr((n_sh, need), np.int64)
        out[f"{a}_adv"] = arr((n_sh, need, *img), np.float32)

    def np_(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().numpy()

    def put_shell(stage: str, i: int, sl: slice, r: ShellResult) -> None:
        for f in ("pred", "conf", "target", "feasible", "dist", "z"):
            out[f"{stage}_{f}"][i, sl] = np_(getattr(r, f))

    gen_base = torch.Generator().manual_seed(seed + 1)
    gens = [torch.Generator().manual_seed(seed + 2 + i) for i in range(n_sh)]
    extra_gens = {
        a: [torch.Generator().manual_seed(seed + off + i) for i in range(n_sh)]
        for a, off in (("apgd", 100), ("square", 200))
        if a in extra
    }
    for b in bar(range(n_batches), n_batches, "shell evaluation (batches)"):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        xb, yb = x_sel[sl].to(device), y_sel[sl].to(device)
        with torch.no_grad():
            conf, pred = torch.softmax(model(xb), 1).max(1)
        out["base_pred"][sl], out["base_conf"][sl] = np_(pred), np_(conf)
        base = _base_attack(model, xb, yb, atk, gen_base)
        with torch.no_grad():
            aconf, apred = torch.softmax(model(base.x_adv), 1).max(1)
        out["base_adv_success"][sl] = np_(base.success)
        out["base_adv"][sl] = np_(base.x_adv)
        out["base_adv_pred"][sl], out["base_adv_conf"][sl] = np_(apred), np_(aconf)
        out["base_adv_linf"][sl] = np_(base.norm)
        msg = [f"base attack {int(base.success.sum())}/{batch_size}"]
        for i, name in enumerate(names):
            cfg = shell_cfgs[name]
            clean = shell(model, xb, cfg)
            adv = shell(model, base.x_adv, cfg)
            put_shell("shell_clean", i, sl, clean)
            put_shell("shell_adv", i, sl, adv)
            res, final = _bpda(
                model,
                xb,
                yb,
                cfg,
                atk["eps"],
                ada["step"],
                ada["steps"],
                ada["restarts"],
                gens[i],
                base.x_adv,
                64,
                start_result=adv,
            )
            out["adaptive_success"][i, sl] = np_(res.success)
            out["adaptive_adv"][i, sl] = np_(res.x_adv)
            out["adaptive_pred"][i, sl] = np_(final.pred)
            out["adaptive_conf"][i, sl] = np_(final.conf)
            out["adaptive_linf"][i, sl] = np_(res.norm)
            out["adaptive_steps"][i, sl] = np_(res.steps)
            done = f"adaptive {int(res.success.sum())}"
            for a, c in extra.items():
                if a == "apgd":
                    r, fin = apgd_attack(
                        model, xb, yb, cfg, eps=atk["eps"], steps=c["steps"],
                        restarts=c["restarts"], generator=extra_gens[a][i], start=base.x_adv,
                    )  # fmt: skip
                else:
                    r, fin = square_attack(
                        model, xb, yb, cfg, eps=atk["eps"], queries=c["queries"],
                        p_init=c["p_init"], generator=extra_gens[a][i],
                    )  # fmt: skip
                out[f"{a}_success"][i, sl] = np_(r.success)
                out[f"{a}_adv"][i, sl] = np_(r.x_adv)
                out[f"{a}_pred"][i, sl] = np_(fin.pred)
                out[f"{a}_linf"][i, sl] = np_(r.norm)
                out[f"{a}_steps"][i, sl] = np_(r.steps)
                done += f", {a} {int(r.success.sum())}"
            msg.append(
                f"{name}: clean acc {int((clean.pred == yb).sum())}/{batch_size}, "
                f"transfer {int((adv.pred != yb).sum())}, {done}"
            )
        log(f"batch {b + 1}/{n_batches}: " + "; ".join(msg))
    labels = np_(y_sel)
    out["shell_adv_success"] = out["shell_adv_pred"] != labels[None]
    out["shell_adv_changed"] = out["shell_adv_pred"] != out["shell_clean_pred"]
    worst = out["shell_adv_success"] | out["adaptive_success"]
    for a in extra:
        worst = worst | out[f"{a}_success"]
    out["worst_success"] = worst
    meta = {
        "seed": int(seed),
        "eps": float(atk["eps"]),
        "n_batches": int(n_batches),
        "batch_size": int(batch_size),
        "n_skipped": int(n_skipped),
        "n_walked": int(n_walked),
        "attack": json.dumps(atk),
        "adaptive": json.dumps(ada),
        "extra_attacks": json.dumps(extra),
        "shells": json.dumps(shell_cfgs),
    }
    return _dataset(out, x_sel, labels, idx, names, shell_cfgs, meta)


_DESCRIPTIONS = {
    "base_pred": ("base model F's prediction on x (= label: only correct points kept)", None),
    "base_conf": ("max softmax of F at x", "1"),
    "base_adv_success": ("base attack (L-inf PGD, margin loss) misclassifies on F", None),
    "base_adv": ("base attack's point x_adv (the transfer attack on the shells)", "input"),
    "base_adv_pred": ("F's prediction at x_adv", None),
    "base_adv_conf": ("max softmax of F at x_adv", "1"),
    "base_adv_linf": ("|x_adv - x|_inf of the base attack", "input"),
    "shell_{s}_pred": ("shell prediction argmax F(H({x}))", None),
    "shell_{s}_conf": ("max softmax of F at H({x})", "1"),
    "shell_{s}_target": ("label t whose search produced H({x})", None),
    "shell_{s}_feasible": ("NCN: some F(z_t)_t >= p at {x} (always True for MCN)", None),
    "shell_{s}_dist": ("|H({x}) - {x}| in the shell's norm", "input"),
    "shell_{s}_z": ("the shell's embedding H({x})", "input"),
    "shell_adv_success": ("transfer attack success: shell prediction at x_adv != label", None),
    "shell_adv_changed": ("shell prediction differs between x and x_adv ('not robust')", None),
    "adaptive_success": ("adaptive BPDA attack on the shell succeeds (re-verified)", None),
    "adaptive_adv": ("adaptive attack's point (best margin where it failed)", "input"),
    "adaptive_pred": ("shell prediction at the adaptive attack's point", None),
    "adaptive_conf": ("max softmax of F at H(adaptive point)", "1"),
    "adaptive_linf": ("|x_adv - x|_inf of the adaptive attack", "input"),
    "adaptive_steps": ("iteration of the first adaptive success in its restart, -1 if none", None),
    "apgd_success": ("APGD through the BPDA-wrapped shell succeeds (re-verified)", None),
    "apgd_adv": ("APGD's point (best margin where it failed)", "input"),
    "apgd_pred": ("shell prediction at APGD's point", None),
    "apgd_linf": ("|x_adv - x|_inf of APGD", "input"),
    "apgd_steps": ("iteration of APGD's first success in its restart, -1 if none", None),
    "square_success": ("Square attack (gradient-free) on the shell succeeds (re-verified)", None),
    "square_adv": ("Square's point (its last accepted query where it failed)", "input"),
    "square_pred": ("shell prediction at Square's point", None),
    "square_linf": ("|x_adv - x|_inf of Square", "input"),
    "square_steps": ("query of Square's first success, -1 if none", None),
    "worst_success": (
        "worst case per point: the transfer, BPDA or an extra adaptive attack succeeds",
        None,
    ),
}


def _describe(name: str) -> tuple[str, str | None]:
    if name in _DESCRIPTIONS:
        return _DESCRIPTIONS[name]
    stage, field = name.rsplit("_", 1)
    desc, units = _DESCRIPTIONS[f"shell_{{s}}_{field}"]
    x = "x" if stage == "shell_clean" else "x_adv (base attack, transfer)"
    return desc.format(x=x), units


def _dataset(out, x_sel, labels, idx, names, cfgs, meta: dict) -> xr.Dataset:
    n = len(labels)
    _, c, h, w = x_sel.shape
    data = {
        "label": var(labels, ("point",), "true class position of the test point"),
        "image": var(x_sel.numpy(), ("point", *IMAGE_DIMS), "clean test image x", "input"),
    }
    for name, a in out.items():
        desc, units = _describe(name)
        if a.ndim == 1:
            dims: tuple[str, ...] = ("point",)
        elif name.startswith("base_"):
            dims = ("point", *IMAGE_DIMS)
        else:
            dims = ("shell", "point", *IMAGE_DIMS)[: a.ndim]
        data[name] = var(a, dims, desc, units)
    return xr.Dataset(
        data,
        coords={
            "point": np.arange(n),
            "shell": np.asarray(names, dtype=str),
            "shell_kind": ("shell", np.asarray([cfgs[s]["kind"] for s in names], dtype=str)),
            "test_index": ("point", np.asarray(idx, dtype=np.int64)),
            "batch": ("point", np.arange(n) // meta["batch_size"]),
            "channel": np.arange(c),
            "row": np.arange(h),
            "col": np.arange(w),
        },
        attrs=meta,
    )


# ----------------------------------------------------------------------------- metrics


def point_flags(store: xr.Dataset) -> dict[str, np.ndarray]:
    """The 0/1 outcome of every point of one evaluation store, per metric (keys as in
    :func:`shell_metrics`)."""
    label = store.label.values
    flags = {"base_attack_success_rate": store.base_adv_success.values.astype(bool)}
    kinds = (
        store.shell_kind.values if "shell_kind" in store.coords else [None] * store.sizes["shell"]
    )
    for s, kind in zip(store.shell.values, kinds, strict=True):
        sel = {"shell": s}
        clean = store.shell_clean_pred.sel(sel).values
        adv = store.shell_adv_pred.sel(sel).values
        flags[f"{s}/transfer_success_rate"] = adv != label
        flags[f"{s}/changed_rate"] = adv != clean
        flags[f"{s}/wrong_and_changed_rate"] = (adv != label) & (adv != clean)
        flags[f"{s}/adaptive_success_rate"] = store.adaptive_success.sel(sel).values.astype(bool)
        for a in ("apgd", "square"):
            if f"{a}_success" in store:
                flags[f"{s}/{a}_success_rate"] = store[f"{a}_success"].sel(sel).values.astype(bool)
        if "worst_success" in store:
            flags[f"{s}/worst_case_success_rate"] = store.worst_success.sel(sel).values.astype(bool)
        flags[f"{s}/retained_accuracy"] = clean == label
        if kind == "ncn":
            flags[f"{s}/infeasible_rate"] = ~store.shell_clean_feasible.sel(sel).values
    return flags


def batch_rates(store: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-batch rates of one evaluation store (keys as in :func:`shell_metrics`)."""
    batch = store.batch.values
    batches = np.unique(batch)
    return {
        k: np.array([np.asarray(f, dtype=np.float64)[batch == b].mean() for b in batches])
        for k, f in point_flags(store).items()
    }


def shell_metrics(stores_by_seed: list[xr.Dataset]) -> dict:
    """Headline numbers of one base model over seeds (one :func:`evaluate` store each).

    Keys (the caller prefixes dataset / base):

    * ``base_attack_success_rate``: base attack succeeds on F;
    * ``<shell>/transfer_success_rate``: shell prediction at the base x_adv != label
      (the standard attack success rate of the shell-equipped model);
    * ``<shell>/changed_rate``: shell prediction differs between x and x_adv (the
      paper's "not robust");
    * ``<shell>/wrong_and_changed_rate``: both (the paper's Table 1 "attack success
      rate": 2/150 = 1.33% for its MCN shell, where 3/150 are wrong at x_adv);
    * ``<shell>/adaptive_success_rate``: the adaptive BPDA attack succeeds;
    * ``<shell>/apgd_success_rate``, ``<shell>/square_success_rate`` (where run): APGD
      through the BPDA-wrapped shell, Square on the shell's output;
    * ``<shell>/worst_case_success_rate``: the worst case per point over the transfer,
      BPDA and the extra attacks;
    * ``<shell>/retained_accuracy``: shell prediction on clean x == label (Table 1);
    * ``<shell>/infeasible_rate`` (NCN shells only): no label reached F >= p on clean x.

    Each value is :func:`~pipeline_lib.stats.rate_stat`: ``seed_stat`` (mean, std,
    n_seeds, per_seed) of the per-seed rates over all points, ``per_batch`` (for every
    seed the per-batch rates: the rows of Table 1) with ``per_batch_ci`` (their Wilson
    95% intervals), and ``pooled`` (k, n, rate, Wilson interval over every point of
    every seed). Also ``n_points`` (points per seed) and ``n_skipped`` (seed_stat of the
    misclassified points skipped while walking the permutation).
    """
    if not stores_by_seed:
        raise ValueError("no stores")
    flags = [point_flags(s) for s in stores_by_seed]
    batches = [s.batch.values for s in stores_by_seed]
    m: dict = {}
    for k in flags[0]:
        have = [(f[k], b) for f, b in zip(flags, batches, strict=True) if k in f]
        m[k] = rate_stat([f for f, _ in have], [b for _, b in have])
    m["n_points"] = int(stores_by_seed[0].sizes["point"])
    m["n_skipped"] = seed_stat([s.attrs.get("n_skipped", np.nan) for s in stores_by_seed])
    return m


def study_metrics(dataset: str, runs: dict[str, list[xr.Dataset]]) -> dict:
    """metrics.json of one dataset: :func:`shell_metrics` of each base's evaluation
    stores (over seeds), keyed ``shells/<dataset>-<base>/<metric>``."""
    return {
        f"shells/{dataset}-{base}/{key.replace('/', '_')}": value
        for base, stores in runs.items()
        for key, value in shell_metrics(stores).items()
    }
