"""Invariant checks of attacks and analyses: a violated invariant stops the job with a
message saying what broke, instead of a silently wrong number in a figure.

Each check is cheap next to the computation it guards (one pass over the output).
Tolerances are relative to the float type in use.
"""

from __future__ import annotations

import torch


class InvariantError(RuntimeError):
    """An attack or analysis produced output that breaks its own contract."""


def _tol(t: torch.Tensor) -> float:
    return 1e-9 if t.dtype == torch.float64 else 1e-5


def _first(mask: torch.Tensor, k: int = 5) -> list[int]:
    return mask.nonzero()[:, 0][:k].tolist()


def check_finite(t: torch.Tensor, what: str) -> None:
    """No NaN or Inf anywhere in ``t`` (per sample along the first axis)."""
    if t.numel() == 0:
        return
    bad = ~torch.isfinite(t.reshape(t.shape[0], -1) if t.ndim else t.reshape(1, 1)).all(1)
    if bad.any():
        raise InvariantError(f"{what}: non-finite values for samples {_first(bad)}")


def check_ball(
    x_adv: torch.Tensor, x: torch.Tensor, eps: torch.Tensor | float, norm: str, what: str
) -> None:
    """``||x_adv - x|| <= eps`` per sample in the attack's norm (``l2`` or ``linf``);
    a NaN or Inf anywhere in a sample fails it too (its norm is not finite)."""
    d = (x_adv - x).flatten(1)
    size = d.norm(dim=1) if norm == "l2" else d.abs().amax(1)
    eps_t = torch.as_tensor(eps, dtype=size.dtype, device=size.device).expand_as(size)
    tol = _tol(size) * (1 + eps_t.abs())
    bad = ~(size <= eps_t + tol)  # NaN compares False: flagged
    if bad.any():
        check_finite(x_adv, what)
        i = _first(bad)
        raise InvariantError(
            f"{what}: perturbation leaves the {norm} eps-ball for samples {i} "
            f"(norms {size[i].tolist()} > eps {eps_t[i].tolist()})"
        )


def check_box(x: torch.Tensor, lo: float, hi: float, what: str) -> None:
    """Every value of ``x`` within ``[lo, hi]`` (NaN is not)."""
    flat = x.flatten(1)
    tol = _tol(flat) * max(1.0, abs(lo), abs(hi))
    bad = ~((flat >= lo - tol) & (flat <= hi + tol)).all(1)
    if bad.any():
        check_finite(x, what)
        i = _first(bad)
        raise InvariantError(
            f"{what}: values outside the [{lo}, {hi}] box for samples {i} "
            f"(range {float(flat[i].min()):.6g} .. {float(flat[i].max()):.6g})"
        )


def check_orthonormal(basis: torch.Tensor, what: str, rows: bool = True) -> None:
    """``basis`` (..., k, n) has orthonormal rows (``rows``) or (..., n, k) orthonormal
    columns: ``B B^T = I_k`` up to the float type's rounding (a NaN or Inf in a basis
    makes its Gram matrix non-finite and fails it)."""
    b = basis if rows else basis.transpose(-1, -2)
    if b.shape[-2] == 0 or b.numel() == 0:
        return
    gram = b @ b.transpose(-1, -2)
    eye = torch.eye(b.shape[-2], dtype=b.dtype, device=b.device)
    err = (gram - eye).abs().flatten(-2).amax(-1).reshape(-1)
    tol = 1e-8 if b.dtype == torch.float64 else 1e-4
    bad = ~(err <= tol)
    if bad.any():
        i = _first(bad)
        raise InvariantError(
            f"{what}: basis is not orthonormal for samples {i} (max |B B^T - I| = "
            f"{err[i].tolist()}, tolerance {tol})"
        )
