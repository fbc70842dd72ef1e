"""Seed-aggregated summaries and the flat ``metrics.json`` they feed."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from pipeline_lib.stats import finite_mean, seed_stat
from pipeline_lib.zarr_io import var

from .boundary import random_direction_angles


def summarize_lowdim(runs: Iterable[xr.Dataset]) -> xr.Dataset:
    """Per-run, per-epoch means over probes / training points, on a
    (manifold, variant, seed, epoch) grid."""
    runs = list(runs)
    manifolds = sorted({r.attrs["manifold"] for r in runs})
    variants = sorted({r.attrs["variant"] for r in runs})
    seeds = sorted({int(r.attrs["seed"]) for r in runs})
    epochs = np.asarray(runs[0].epoch.values)
    for r in runs:
        if not np.array_equal(r.epoch.values, epochs):
            raise ValueError("all runs must share the same snapshot epochs")
    shape = (len(manifolds), len(variants), len(seeds), len(epochs))
    fields = {
        "boundary_distance": (
            "probe_distance",
            "mean Euclidean distance from the manifold (probe grid) to the decision boundary",
            "input",
            False,
        ),
        "boundary_offset": (
            "probe_normal_offset",
            "mean |offset along the normal| from the manifold (probe grid) to the boundary",
            "input",
            True,
        ),
        "dimple_depth": (
            "train_normal_offset",
            "mean |offset along the normal| from the training points to the boundary",
            "input",
            True,
        ),
        "train_distance": (
            "train_distance",
            "mean Euclidean distance from the training points to the boundary",
            "input",
            False,
        ),
        "gradient_angle": (
            "gradient_angle",
            "mean angle between the input gradient at the training points and the manifold",
            "degree",
            False,
        ),
        "boundary_present": (
            "probe_normal_offset",
            "fraction of probes whose normal line crosses the boundary inside the cube",
            "1",
            None,
        ),
    }
    out = {k: np.full(shape, np.nan) for k in fields}
    acc = np.full(shape, np.nan)
    tacc = np.full(shape, np.nan)
    for r in runs:
        i = (
            manifolds.index(r.attrs["manifold"]),
            variants.index(r.attrs["variant"]),
            seeds.index(int(r.attrs["seed"])),
        )
        for key, (src, _, _, absval) in fields.items():
            a = r[src].values
            if absval is None:
                out[key][i] = np.isfinite(a).mean(axis=1)
            else:
                out[key][i] = finite_mean(np.abs(a) if absval else a, axis=1)
        acc[i] = r.train_accuracy.sel(train_epoch=epochs).values
        tacc[i] = r.test_accuracy.values
    dims = ("manifold", "variant", "seed", "epoch")
    data = {k: var(out[k], dims, desc, units=u) for k, (_, desc, u, _) in fields.items()}
    data["train_accuracy"] = var(acc, dims, "accuracy on the labels trained on", units="1")
    data["test_accuracy"] = var(tacc, dims, "accuracy on held-out points (true labels)", units="1")
    # control: angle of isotropic random directions to each manifold
    base = {}
    for m in manifolds:
        r = next(r for r in runs if r.attrs["manifold"] == m)
        basis = r.attrs.get("tangent_basis")
        base[m] = float(
            np.mean(random_direction_angles(len(basis[0]), np.asarray(basis), 200_000, 0))
        )
    data["random_direction_angle"] = var(
        np.array([base[m] for m in manifolds]),
        ("manifold",),
        "mean angle between an isotropic random direction and the manifold (control)",
        units="degree",
    )
    return xr.Dataset(
        data, coords={"manifold": manifolds, "variant": variants, "seed": seeds, "epoch": epochs}
    )


def _nanstd(a: np.ndarray) -> np.ndarray:
    """Sample sd over axis 0 ignoring NaN (0 for a single finite value, NaN for none)."""
    out = np.full(a.shape[1], np.nan)
    for j in range(a.shape[1]):
        fin = a[np.isfinite(a[:, j]), j]
        if fin.size:
            out[j] = fin.std(ddof=1) if fin.size > 1 else 0.0
    return out


def lowdim_metrics(summary: xr.Dataset, prefix: str = "dmm_lowdim") -> dict:
    """Headline numbers keyed ``<experiment>/<manifold>-<variant>/<metric>``."""
    m: dict = {}
    last = summary.epoch.values[-1]
    first = summary.epoch.values[0]
    for man in summary.manifold.values:
        for v in summary.variant.values:
            s = summary.sel(manifold=man, variant=v)
            key = f"{prefix}/{man}-{v}"
            curve = s.boundary_distance.values  # (seed, epoch)
            m[f"{key}/clinging_curve"] = {
                "epoch": [int(e) for e in summary.epoch.values],
                "mean": [
                    None if not np.isfinite(x) else float(x) for x in finite_mean(curve, axis=0)
                ],
                "std": [None if not np.isfinite(x) else float(x) for x in _nanstd(curve)],
                "n_seeds": int(curve.shape[0]),
            }
            m[f"{key}/boundary_distance_initial"] = seed_stat(s.boundary_distance.sel(epoch=first))
            m[f"{key}/boundary_distance_final"] = seed_stat(s.boundary_distance.sel(epoch=last))
            m[f"{key}/boundary_present_final"] = seed_stat(s.boundary_present.sel(epoch=last))
            m[f"{key}/gradient_angle_deg"] = seed_stat(s.gradient_angle.sel(epoch=last))
            m[f"{key}/dimple_depth"] = seed_stat(s.dimple_depth.sel(epoch=last))
            m[f"{key}/train_accuracy"] = seed_stat(s.train_accuracy.sel(epoch=last))
            m[f"{key}/test_accuracy"] = seed_stat(s.test_accuracy.sel(epoch=last))
        m[f"{prefix}/{man}/random_direction_angle_deg"] = float(
            summary.random_direction_angle.sel(manifold=man)
        )
        if {"clean", "adversarial"} <= set(summary.variant.values):
            c = summary.dimple_depth.sel(manifold=man, variant="clean", epoch=last).values
            a = summary.dimple_depth.sel(manifold=man, variant="adversarial", epoch=last).values
            with np.errstate(invalid="ignore", divide="ignore"):
                m[f"{prefix}/{man}/dimple_depth_ratio_adversarial_over_clean"] = seed_stat(a / c)
    return m
