"""Seed-aggregated summaries and the flat ``metrics.json`` they feed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from pipeline_lib.stats import finite_mean, seed_stat
from pipeline_lib.zarr_io import var

from .boundary import random_direction_angles

#: the normal lines reach this far on each side (experiment.normal_offsets): an offset
#: with no crossing on its line is censored here in the offset quantiles
REACH = 0.5


def share_within(offsets: np.ndarray, distances) -> np.ndarray:
    """Share of probes whose normal line meets the boundary within ``d`` (above or
    below), for each ``d``: ``(..., probe) -> (..., len(distances))``; a probe with no
    crossing (NaN) counts as not within."""
    a = np.abs(np.asarray(offsets, dtype=np.float64))
    a = np.where(np.isfinite(a), a, np.inf)
    return (a[..., None] <= np.asarray(distances, dtype=np.float64)).mean(axis=-2)


def offset_quantiles(offsets: np.ndarray, quantiles) -> np.ndarray:
    """Quantiles over probes of |normal offset| to the boundary, a probe with no
    crossing censored at :data:`REACH`: ``(..., probe) -> (..., len(quantiles))``."""
    a = np.abs(np.asarray(offsets, dtype=np.float64))
    a = np.where(np.isfinite(a), np.minimum(a, REACH), REACH)
    return np.moveaxis(np.quantile(a, np.asarray(quantiles), axis=-1), 0, -1)


def offset_histogram(offsets: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of probes whose signed normal offset to the boundary falls in each bin
    (``(..., probe) -> (..., len(edges) - 1)``; probes with no crossing in no bin)."""
    a = np.asarray(offsets, dtype=np.float64)
    flat = a.reshape(-1, a.shape[-1])
    out = np.stack([np.histogram(r[np.isfinite(r)], bins=edges)[0] for r in flat])
    return (out / a.shape[-1]).reshape(*a.shape[:-1], len(edges) - 1)


def separation_edges(bins: int) -> np.ndarray:
    return np.linspace(-REACH, REACH, bins + 1)


def separation_vars(offsets: list, dims: tuple, shape: tuple, index: list, sep, who: str):
    """The measures that tell clinging from walls. ``offsets``: per-run probe offsets
    (probe counts may differ between manifolds), placed at ``index`` of ``shape``."""
    d, q = sep["distances"], sep["quantiles"]
    edges = separation_edges(sep["bins"])
    arrays = {
        "share_within": np.full((*shape, len(d)), np.nan),
        "offset_quantile": np.full((*shape, len(q)), np.nan),
        "offset_histogram": np.full((*shape, len(edges) - 1), np.nan),
    }
    for off, i in zip(offsets, index, strict=True):
        arrays["share_within"][i] = share_within(off, d)
        arrays["offset_quantile"][i] = offset_quantiles(off, q)
        arrays["offset_histogram"][i] = offset_histogram(off, edges)
    return {
        "share_within": var(
            arrays["share_within"],
            (*dims, "distance"),
            f"{who}: share of the manifold (probe grid) over which the boundary runs within "
            "the given distance along the normal (above or below)",
            units="1",
        ),
        "offset_quantile": var(
            arrays["offset_quantile"],
            (*dims, "quantile"),
            f"{who}: quantiles over the probe grid of |offset along the normal| to the "
            f"boundary (no crossing in the cube counted as {REACH:g})",
            units="input",
        ),
        "offset_histogram": var(
            arrays["offset_histogram"],
            (*dims, "offset_bin"),
            f"{who}: share of probes whose signed normal offset to the boundary falls in "
            "the bin (probes with no crossing in the cube in no bin)",
            units="1",
        ),
    }


def separation_coords(sep: Mapping) -> dict:
    edges = separation_edges(sep["bins"])
    return {
        "distance": np.asarray(sep["distances"], dtype=np.float64),
        "quantile": np.asarray(sep["quantiles"], dtype=np.float64),
        "offset_bin": (edges[:-1] + edges[1:]) / 2,
    }


def summarize_walls(walls: Iterable[xr.Dataset], sep: Mapping) -> xr.Dataset:
    """The walls baseline per manifold: the clinging metric and the separating
    measures, named like the networks' with a ``walls_`` prefix."""
    walls = sorted(walls, key=lambda w: w.attrs["manifold"])
    offs = [w.probe_normal_offset.values for w in walls]
    dims = ("manifold",)
    who = "walls baseline (Voronoi walls perpendicular to the manifold)"
    data = {
        "walls_boundary_distance": var(
            np.array([finite_mean(w.probe_distance.values) for w in walls]),
            dims,
            f"{who}: mean Euclidean distance from the probe grid to the boundary",
            units="input",
        ),
        "walls_boundary_offset": var(
            np.array([finite_mean(np.abs(w.probe_normal_offset.values)) for w in walls]),
            dims,
            f"{who}: mean |offset along the normal| from the probe grid to the boundary, "
            "over probes whose normal line crosses it",
            units="input",
        ),
        "walls_boundary_present": var(
            np.array([np.isfinite(o).mean() for o in offs]),
            dims,
            f"{who}: fraction of probes whose normal line crosses the boundary in the cube",
            units="1",
        ),
    }
    index = [(i,) for i in range(len(walls))]
    sv = separation_vars(offs, dims, (len(walls),), index, sep, who)
    data |= {f"walls_{k}": v for k, v in sv.items()}
    coords = {"manifold": [w.attrs["manifold"] for w in walls], **separation_coords(sep)}
    return xr.Dataset(data, coords=coords)


def summarize_lowdim(
    runs: Iterable[xr.Dataset],
    walls: Iterable[xr.Dataset] = (),
    separation: Mapping | None = None,
) -> xr.Dataset:
    """Per-run, per-epoch means over probes / training points, on a
    (manifold, variant, seed, epoch) grid; with ``separation`` (config
    ``lowdim.separation``) also the measures that separate clinging from walls, and
    the walls baseline of each manifold."""
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
    coords = {"manifold": manifolds, "variant": variants, "seed": seeds, "epoch": epochs}
    if separation is None:
        return xr.Dataset(data, coords=coords)
    index = [
        (
            manifolds.index(r.attrs["manifold"]),
            variants.index(r.attrs["variant"]),
            seeds.index(int(r.attrs["seed"])),
        )
        for r in runs
    ]
    offs = [r.probe_normal_offset.values for r in runs]  # (epoch, probe) each
    data |= separation_vars(offs, dims, shape, index, separation, "trained network")
    out = xr.Dataset(data, coords={**coords, **separation_coords(separation)})
    walls = list(walls)
    if walls:
        out = out.merge(summarize_walls(walls, separation).reindex(manifold=manifolds))
    return out


def _nanstd(a: np.ndarray) -> np.ndarray:
    """Sample sd over axis 0 ignoring NaN (0 for a single finite value, NaN for none)."""
    out = np.full(a.shape[1], np.nan)
    for j in range(a.shape[1]):
        fin = a[np.isfinite(a[:, j]), j]
        if fin.size:
            out[j] = fin.std(ddof=1) if fin.size > 1 else 0.0
    return out


def share_key(d: float) -> str:
    """Metric name of the share of the manifold within ``d`` along the normal."""
    return f"share_within_{float(d):g}"


def quantile_key(q: float) -> str:
    """Metric name of a quantile of |normal offset| (q in [0, 1])."""
    return f"normal_offset_q{round(float(q) * 100):d}"


def _float(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


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
            m[f"{key}/boundary_offset_final"] = seed_stat(s.boundary_offset.sel(epoch=last))
            if "share_within" in summary:
                for d in summary.distance.values:
                    m[f"{key}/{share_key(d)}_final"] = seed_stat(
                        s.share_within.sel(epoch=last, distance=d)
                    )
                for q in summary["quantile"].values:
                    m[f"{key}/{quantile_key(q)}_final"] = seed_stat(
                        s.offset_quantile.sel(epoch=last, quantile=q)
                    )
            m[f"{key}/train_accuracy"] = seed_stat(s.train_accuracy.sel(epoch=last))
            m[f"{key}/test_accuracy"] = seed_stat(s.test_accuracy.sel(epoch=last))
        m[f"{prefix}/{man}/random_direction_angle_deg"] = float(
            summary.random_direction_angle.sel(manifold=man)
        )
        if "walls_boundary_distance" in summary:
            w = summary.sel(manifold=man)
            key = f"{prefix}/{man}-walls"
            m[f"{key}/boundary_distance"] = float(w.walls_boundary_distance)
            m[f"{key}/boundary_offset"] = _float(w.walls_boundary_offset)
            m[f"{key}/boundary_present"] = float(w.walls_boundary_present)
            for d in summary.distance.values:
                m[f"{key}/{share_key(d)}"] = float(w.walls_share_within.sel(distance=d))
            for q in summary["quantile"].values:
                m[f"{key}/{quantile_key(q)}"] = float(w.walls_offset_quantile.sel(quantile=q))
        if {"clean", "adversarial"} <= set(summary.variant.values):
            c = summary.dimple_depth.sel(manifold=man, variant="clean", epoch=last).values
            a = summary.dimple_depth.sel(manifold=man, variant="adversarial", epoch=last).values
            with np.errstate(invalid="ignore", divide="ignore"):
                m[f"{prefix}/{man}/dimple_depth_ratio_adversarial_over_clean"] = seed_stat(a / c)
    return m


def summarize_ablation(runs: Iterable[xr.Dataset], fit: float, share_distance: float):
    """The App. C sensitivity runs at their last snapshot on a (manifold, setting, seed)
    grid: final train accuracy, whether it reaches ``fit``, clinging measures."""
    runs = list(runs)
    manifolds = sorted({r.attrs["manifold"] for r in runs})
    settings = sorted({r.attrs["setting"] for r in runs})
    seeds = sorted({int(r.attrs["seed"]) for r in runs})
    shape = (len(manifolds), len(settings), len(seeds))
    vals = {k: np.full(shape, np.nan) for k in ("acc", "dist", "off", "share", "present")}
    for r in runs:
        i = (
            manifolds.index(r.attrs["manifold"]),
            settings.index(r.attrs["setting"]),
            seeds.index(int(r.attrs["seed"])),
        )
        off = r.probe_normal_offset.isel(epoch=-1).values
        vals["acc"][i] = float(r.train_accuracy.values[-1])
        vals["dist"][i] = finite_mean(r.probe_distance.isel(epoch=-1).values)
        vals["off"][i] = finite_mean(np.abs(off))
        vals["share"][i] = share_within(off, [share_distance])[0]
        vals["present"][i] = np.isfinite(off).mean()
    dims = ("manifold", "setting", "seed")
    data = {
        "train_accuracy": var(vals["acc"], dims, "training accuracy after the last epoch", "1"),
        "trains": var(
            (vals["acc"] >= fit).astype(np.float64),
            dims,
            f"1 if the final training accuracy reaches {fit:g} (the 'trains' threshold)",
            "1",
        ),
        "boundary_distance": var(
            vals["dist"], dims, "final mean distance from the probe grid to the boundary", "input"
        ),
        "boundary_offset": var(
            vals["off"],
            dims,
            "final mean |normal offset| from the probe grid to the boundary",
            "input",
        ),
        "share_mid": var(
            vals["share"],
            dims,
            f"final share of the manifold with the boundary within {share_distance:g} along "
            "the normal",
            "1",
        ),
        "boundary_present": var(
            vals["present"], dims, "final fraction of probes whose normal line crosses", "1"
        ),
    }
    return xr.Dataset(
        data,
        coords={"manifold": manifolds, "setting": settings, "seed": seeds},
        attrs={"fit": fit, "share_distance": share_distance},
    )


def ablation_metrics(summary: xr.Dataset, prefix: str = "dmm_lowdim_ablation") -> dict:
    """Keyed ``<prefix>/<manifold>-<setting>/<metric>`` (setting: lr-output weights-loss)."""
    m: dict = {}
    d = float(summary.attrs["share_distance"])
    for man in summary.manifold.values:
        for st in summary.setting.values:
            s = summary.sel(manifold=man, setting=st)
            key = f"{prefix}/{man}-{st}"
            m[f"{key}/train_accuracy"] = seed_stat(s.train_accuracy)
            m[f"{key}/trains"] = seed_stat(s.trains)
            m[f"{key}/boundary_distance_final"] = seed_stat(s.boundary_distance)
            m[f"{key}/boundary_offset_final"] = seed_stat(s.boundary_offset)
            m[f"{key}/{share_key(d)}_final"] = seed_stat(s.share_mid)
    return m
