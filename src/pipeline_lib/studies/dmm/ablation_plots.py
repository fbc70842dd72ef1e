"""Figures of the natural-image DMM ablations (config ``dmm.ablations``): the manifold
sweep against k, the tangent location, and Fig. 6 per architecture with sub-epoch
checkpoints. The sweeps draw from the ablation metrics.json (mean ± sd over seeds of
the per-image means); the Fig. 6 curves from the distance stores."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)
from pipeline_lib.stats import finite_mean

from .ablation_names import setting_name

PREFIX = "dmm_ablation"
ATTACK_COLORS = {"regular": "k", "on": "tab:green", "off": "tab:red"}
LOCATION_NAMES = {"reconstruction": "at x' = D(E(x))", "projected": "at D(z*) (nearest x)"}
ARCH_NAMES = {"mlp": "MLP", "convnet": "conv net", "resnet": "ResNet"}


def _stat(metrics: Mapping, key: str) -> tuple[float, float]:
    s = metrics.get(key) or {}
    mean = s.get("mean")
    std = s.get("std")
    return (np.nan if mean is None else mean), (0.0 if std is None else std)


def _series(metrics, dataset, settings, e, at, run, name):
    ks = sorted({k for k, ee, a in settings if ee == e and a == at})
    vals = [_stat(metrics, f"{PREFIX}/{dataset}/{setting_name(k, e, at)}{run}/{name}") for k in ks]
    return np.asarray(ks), np.asarray([v[0] for v in vals]), np.asarray([v[1] for v in vals])


def _k_axis(ax, ks) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("latent size k")


def manifold_figure(metrics: Mapping, dataset: str, settings: list[tuple[int, int, str]]):
    """Item 7: reconstruction distance, R(d, M) with its controls, E and the on/off/
    regular PGD distances against k, one line style per autoencoder training length."""
    at = "reconstruction" if any(s[2] == "reconstruction" for s in settings) else settings[0][2]
    lengths = sorted({e for _, e, a in settings if a == at})
    ks = sorted({k for k, _, a in settings if a == at})
    styles = ["--", "-", ":", "-."]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.4))

    def line(ax, e, run, name, color, label, ls, marker="o"):
        x, m, s = _series(metrics, dataset, settings, e, at, run, name)
        ax.errorbar(x, m, yerr=s, color=color, ls=ls, marker=marker, ms=4, capsize=3, label=label)

    for i, e in enumerate(lengths):
        ls = styles[(len(lengths) - 1 - i) % len(styles)]  # the longest training solid
        tag = f"{e} ep."
        line(axes[0], e, "", "autoencoder_test_l2", "tab:blue", f"|x - D(E(x))|, {tag}", ls)
        line(axes[1], e, "-clean", "norm_ratio", "tab:red", f"R(d, M), {tag}", ls)
        line(axes[1], e, "-clean", "norm_ratio_random_subspace", "tab:gray", f"R(d, Q), {tag}", ls)
        line(axes[2], e, "-clean", "on_manifold_relative_effect", "tab:purple", f"E, {tag}", ls)
        for (a, c), mk in zip(ATTACK_COLORS.items(), "s^v", strict=True):
            line(axes[3], e, "-clean", f"{a}_pgd_distance", c, f"{a}, {tag}", ls, mk)
    n = metrics.get(f"{PREFIX}/{dataset}/{setting_name(ks[0], lengths[0], at)}/n_features")
    if n:
        kk = np.asarray(ks, dtype=float)
        axes[1].plot(kk, np.sqrt(n / kk), color="tab:olive", lw=1, label="sqrt(n/k)")
    axes[2].axhline(0.1, color="0.5", lw=0.8, ls=":", label="'tiny' (0.1)")
    titles = [
        ("(a) manifold quality: test reconstruction distance", "mean L2 |x - x'| (input units)"),
        ("(b) Table 1: norm ratio of PGD perturbations", "R = |d| / |Proj d|"),
        ("(c) App. E.2: on-manifold relative effect", "E = E_{Proj_M d} / E_d"),
        ("(d) Table 2: constrained PGD distances", "mean L2 distance (input units)"),
    ]
    _label_k_panels(axes, ks, titles, legend_size=6.5)
    axes[1].set_yscale("log")
    axes[3].set_yscale("log")
    fig.suptitle(
        f"{dataset}: manifold dimension k and autoencoder training length (tangents at "
        "x' = D(E(x)); clean classifiers; mean ± sd over seeds)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _label_k_panels(axes, ks, titles, legend_size: float) -> None:
    """Panels over the manifold dimension k: the k axis, (title, y label) pairs, legends."""
    for ax, (title, ylabel) in zip(axes, titles, strict=True):
        _k_axis(ax, ks)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=legend_size)


def location_figure(metrics: Mapping, dataset: str, settings: list[tuple[int, int, str]]):
    """Item 9: per k (the longest training length), the distance from x to the point
    where the tangent space is taken next to the attack distance, and R and the on/off
    distance ratio at both locations."""
    e = max(e for _, e, _ in settings)
    ks = sorted({k for k, ee, _ in settings if ee == e})
    locs = [a for a in LOCATION_NAMES if any(s[2] == a and s[1] == e for s in settings)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    colors = {"reconstruction": "tab:blue", "projected": "tab:orange"}
    for at in locs:
        c, name = colors[at], LOCATION_NAMES[at]
        for ax, run, key, ls, label in (
            (axes[0], "", "location_l2", "-", f"|x - p|, p {name}"),
            (axes[1], "-clean", "norm_ratio", "-", f"R(d, M), M {name}"),
            (axes[1], "-clean", "norm_ratio_random_subspace", ":", f"R(d, Q) control ({at})"),
            (axes[2], "-clean", "on_over_off_distance", "-", f"on / off distance, {name}"),
        ):
            x, m, s = _series(metrics, dataset, settings, e, at, run, key)
            ax.errorbar(x, m, yerr=s, color=c, ls=ls, marker="o", ms=4, capsize=3, label=label)
    x, m, s = _series(metrics, dataset, settings, e, locs[0], "-clean", "pgd_distance")
    axes[0].errorbar(x, m, yerr=s, color="k", marker="s", ms=4, capsize=3, label="attack |d|")
    axes[2].axhline(1.0, color="0.5", lw=0.8, ls=":", label="on = off")
    axes[2].axhline(2.0, color="0.5", lw=0.8, ls="--", label="'much further' (2x)")
    titles = [
        ("(a) distance from x to the tangent point vs attack distance", "L2 (input units)"),
        ("(b) Table 1 norm ratio at each location", "R = |d| / |Proj d|"),
        ("(c) Table 2: on- / off-manifold PGD distance", "ratio of mean distances"),
    ]
    _label_k_panels(axes, ks, titles, legend_size=7)
    axes[1].set_yscale("log")
    fig.suptitle(
        f"{dataset}: where the tangent space is taken (autoencoders of {e} epochs; clean "
        "classifiers; mean ± sd over seeds)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def boundary_figure(distances: dict[str, list[xr.Dataset]]):
    """Item 10: Fig. 6 per architecture, the first epoch (sub-epoch checkpoints) and the
    whole training, and the test accuracy of the tracked images."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for i, (arch, runs) in enumerate(distances.items()):
        c, name = colors[i % len(colors)], ARCH_NAMES.get(arch, arch)
        t = np.asarray(runs[0].epoch.values, dtype=np.float64)
        dist = np.stack([finite_mean(r.distance.values, axis=1) for r in runs])
        acc = np.stack([np.asarray(r.test_accuracy.values, dtype=np.float64) for r in runs])
        first = t <= 1.0 + 1e-9
        for ax, y, sel in (
            (axes[0], dist, first),
            (axes[1], dist, slice(None)),
            (axes[2], acc, slice(None)),
        ):
            m, s = y.mean(0)[sel], (y.std(0, ddof=1) if len(runs) > 1 else 0 * y[0])[sel]
            ax.plot(t[sel], m, color=c, marker="o", ms=3, label=f"{name} ({len(runs)} seeds)")
            ax.fill_between(t[sel], m - s, m + s, color=c, alpha=0.2, lw=0)
    axes[0].set_xlabel("epochs of training (sub-epoch checkpoints)")
    axes[1].set_xlabel("epochs of training (symlog)")
    axes[2].set_xlabel("epochs of training (symlog)")
    for ax in axes[1:]:
        ax.set_xscale("symlog", linthresh=1.0)
    titles = [
        ("(a) first epoch", "mean L2 distance to the boundary"),
        ("(b) whole training", "mean L2 distance to the boundary"),
        ("(c) accuracy on the tracked test images", "accuracy"),
    ]
    for ax, (title, ylabel) in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    axes[2].set_ylim(-0.02, 1.02)
    fig.suptitle(
        "DMM Fig. 6 per architecture: distance from test images to the decision boundary "
        "(paper: a fast early drop, then a plateau); mean ± sd over seeds",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
