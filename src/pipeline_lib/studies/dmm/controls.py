"""Controls of the natural-image DMM measurements (issue 19): one store per attacked
classifier, next to (not inside) its attacks store, so the attacks are not recomputed.

* Table 2 / Sec. 7.1: the same constrained on-/off-subspace PGD in a uniformly random
  k-dim subspace Q per image (same eps, steps and on-step factor), so the manifold's
  on/off distance ratio can be compared with that of a random subspace of the same
  dimension; and, per image, the locally linear prediction of that ratio from the
  gradient's on-subspace share s: a linear margin m with gradient g is crossed at
  distance m / |P g| along the subspace and m / |(1 - P) g| off it, so
  on / off = |(1 - P) g| / |P g| = sqrt(1 - s^2) / s.
* Table 1 with a random start: the greedy L2 PGD started at a uniformly random point of
  the eps-ball (the default of the attack library the paper names) next to the zero start.
* App. H: the object share of a uniform-magnitude random-sign perturbation after the
  attack's clipping of x + d to [0, 1] (exact expectation, see :func:`uniform_object_share`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr
from torch import nn

from pipeline_lib.attacks import pgd, subspace_projector
from pipeline_lib.models import frozen
from pipeline_lib.zarr_io import table_dataset

from .experiment import (
    Log,
    _quiet,
    gradient_on_share,
    projection_ratio,
    random_orthonormal,
    tangent_batch,
)

SUBSPACE_ATTACKS = ("on", "off")
# offset of the controls' generator seed from the classifier seed (attack_store uses the
# seed itself; the controls' random subspaces and starts are independent of its draws)
SEED_OFFSET = 50_000


def linear_on_over_off(share: torch.Tensor | np.ndarray):
    """The locally linear model's on/off distance ratio sqrt(1 - s^2) / s for the
    gradient's on-subspace share s (inf at s = 0, 0 at s = 1)."""
    s = torch.as_tensor(share, dtype=torch.float64)
    return torch.sqrt((1 - s**2).clamp_min(0)) / s


def uniform_object_share(x: torch.Tensor, magnitude: torch.Tensor, threshold: float):
    """Object share of the squared mass of a random-sign perturbation of per-pixel
    magnitude ``magnitude[i]`` after the clipping of x + d to [0, 1], as the ratio of the
    expected masses (exact; with hundreds of pixels the ratio concentrates on it).

    A pixel of value v keeps min(a, 1 - v) of a + step and min(a, v) of a - step, each
    with probability 1/2, so its expected squared mass is (min(a, 1-v)^2 + min(a, v)^2)/2:
    a pixel at 0 (Fashion-MNIST's background) keeps half the mass of a mid-grey one.
    ``x`` is flat (N, n) in [0, 1]; ``magnitude`` (N,); NaN magnitude gives NaN."""
    a = magnitude.to(x)[:, None]
    mass = 0.5 * (torch.minimum(a, 1 - x).pow(2) + torch.minimum(a, x).pow(2))
    mask = (x > threshold).to(x)
    return (mass * mask).sum(1) / mass.sum(1).clamp_min(1e-30)


def _subspace_attacks(model, img, y, basis, c: dict, log: Log) -> dict[str, torch.Tensor]:
    """On-/off-subspace greedy L2 PGD in the subspaces ``basis`` (App. F settings)."""
    succ, dist = [], []
    for name in SUBSPACE_ATTACKS:
        step = c["step"] * (c["on_step_factor"] if name == "on" else 1.0)
        res = pgd(
            model,
            img,
            y,
            norm="l2",
            eps=c["eps"],
            step_size=step,
            steps=c["steps"],
            project=subspace_projector(basis, name),
        )
        succ.append(res.success)
        dist.append(torch.where(res.success, res.norm, torch.nan))
        log(f"random-subspace {name} PGD: success {res.success.float().mean():.3f}")
    return {"q_success": torch.stack(succ, 1), "q_distance": torch.stack(dist, 1)}


#: :func:`controls_store`'s variables: name -> (dims, description, units or None)
CONTROL_VARS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "q_success": (
        ("sample", "attack"),
        "on-/off-subspace PGD in a uniformly random k-dim subspace Q changed the class",
        None,
    ),
    "q_distance": (
        ("sample", "attack"),
        "L2 distance of the on-/off-Q PGD adversarial example (NaN: failed)",
        "input",
    ),
    "m_on_over_off": (
        ("sample",),
        "measured on-/off-manifold PGD distance ratio (attacks store; NaN: one failed)",
        None,
    ),
    "q_on_over_off": (("sample",), "measured on-/off-Q PGD distance ratio", None),
    "grad_q_share": (("sample",), "|Proj_Q g| / |g| for the margin-loss gradient g", None),
    "m_linear_on_over_off": (
        ("sample",),
        "locally linear prediction sqrt(1 - s^2) / s of the on/off-manifold distance ratio "
        "from the gradient's on-manifold share s",
        None,
    ),
    "q_linear_on_over_off": (
        ("sample",),
        "locally linear prediction sqrt(1 - s^2) / s of the on/off-Q ratio, s = |Proj_Q g|/|g|",
        None,
    ),
    "rs_success": (
        ("sample",),
        "Table 1 greedy L2 PGD from a random start changed the class",
        None,
    ),
    "rs_norm": (("sample",), "|d|_2 of the random-start attack (NaN: failed)", "input"),
    "rs_ratio": (("sample",), "R(d, M) of the random-start perturbation (NaN: failed)", None),
    "rs_ratio_random_subspace": (
        ("sample",),
        "R(d, Q) of the random-start perturbation on the random subspace Q",
        None,
    ),
    "l2_uniform_object_share": (
        ("sample",),
        "object share of a uniform-magnitude random-sign perturbation with the L2 attack's "
        "norm, after clipping x + d to [0, 1] (expected masses; NaN: L2 attack failed)",
        None,
    ),
    "linf_uniform_object_share": (
        ("sample",),
        "the same at the L-inf attack's magnitude |d|_inf (NaN: L-inf attack failed)",
        None,
    ),
}


def controls_store(
    model: nn.Module,
    tangents: xr.Dataset,
    attacks: xr.Dataset,
    cfg: dict,
    seed: int,
    device: torch.device,
    object_threshold: float = 0.1,
    log: Log = _quiet,
) -> xr.Dataset:
    """The controls (module docstring) for the images of the attacks store ``attacks``
    (the correctly classified images of the tangent store), aligned with it along
    ``sample``. ``cfg`` holds the ``attack`` and ``constrained`` settings."""
    model = frozen(model, device)
    x, y, basis, img = tangent_batch(tangents.sel(sample=attacks.sample.values), device)
    n, f = x.shape
    k = basis.shape[1]
    gen = torch.Generator().manual_seed(SEED_OFFSET + seed)
    rand_basis = random_orthonormal(n, k, f, gen).to(device)

    q = _subspace_attacks(model, img, y, rand_basis, cfg["constrained"], log)
    s_q = gradient_on_share(model, img, y, rand_basis)
    s_m = torch.as_tensor(attacks.grad_on_share.values).to(device)
    c = torch.as_tensor(attacks.c_distance.values).to(device)
    on, off = (c[:, list(attacks.attack.values).index(a)] for a in ("on", "off"))

    a = cfg["attack"]
    rs = pgd(
        model,
        img,
        y,
        norm="l2",
        eps=a["eps"],
        step_size=a["step"],
        steps=a["steps"],
        random_start=True,
        generator=gen,
    )
    d = rs.x_adv.reshape(n, f) - x
    ok = rs.success
    log(
        f"random-start L2 PGD: success {ok.float().mean():.3f} "
        f"(zero start {float(attacks.pgd_success.mean()):.3f})"
    )
    l2_norm = torch.as_tensor(attacks.pgd_norm.values).to(x)
    l2_norm = torch.where(
        torch.as_tensor(attacks.pgd_success.values).to(device), l2_norm, torch.nan
    )
    linf_norm = torch.as_tensor(attacks.linf_norm.values).to(x)
    linf_norm = torch.where(
        torch.as_tensor(attacks.linf_success.values).to(device), linf_norm, torch.nan
    )
    values = {
        **q,
        "m_on_over_off": on / off,
        "q_on_over_off": q["q_distance"][:, 0] / q["q_distance"][:, 1],
        "grad_q_share": s_q,
        "m_linear_on_over_off": linear_on_over_off(s_m.cpu()),
        "q_linear_on_over_off": linear_on_over_off(s_q.cpu()),
        "rs_success": ok,
        "rs_norm": torch.where(ok, rs.norm, torch.nan),
        "rs_ratio": torch.where(ok, projection_ratio(d, basis), torch.nan),
        "rs_ratio_random_subspace": torch.where(ok, projection_ratio(d, rand_basis), torch.nan),
        "l2_uniform_object_share": uniform_object_share(
            x, l2_norm / math.sqrt(f), object_threshold
        ),
        "linf_uniform_object_share": uniform_object_share(x, linf_norm, object_threshold),
    }
    return table_dataset(
        CONTROL_VARS,
        values,
        coords={"sample": attacks.sample.values, "attack": list(SUBSPACE_ATTACKS)},
        attrs={"k": k, "n_features": f, "seed_offset": SEED_OFFSET},
        fields={"object_threshold": object_threshold},
    )
