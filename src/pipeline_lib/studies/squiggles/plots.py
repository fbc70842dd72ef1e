"""Figures of the Squiggles study (Kindermans & Staats, "When adversarial examples are
excusable"): random examples (Fig. 1/15/20, Table 4), within/cross-variant
generalization (Table 6), the latent-space attack (Fig. 9), distances to the true
decision boundary (Fig. 8), pixel PGD vs Gaussian noise (Fig. 10), the on/off-manifold
decomposition of attack vectors (Fig. 11) and galleries of errors (Fig. 7, with the
self-intersections of Fig. 27 marked).

Each ``*_figure`` function takes opened stores of :mod:`pipeline_lib.squiggles` /
:mod:`pipeline_lib.squiggle_experiments` and returns a matplotlib Figure. Figs. 11 and 7
are computed, then drawn: :func:`decomposition_table` / :func:`errors_table` give the
numbers as a pandas DataFrame (no matplotlib), :func:`draw_decomposition` /
:func:`draw_errors` draw such a table.

Conventions:

* Images are (channel, row, col) with the row index going with the curve's x coordinate
  and the column with y (App. A.3), so imshow shows the curve transposed; a curve point
  (x, y) is drawn at column ``y (n - 1)``, row ``x (n - 1)``. Images are shown on
  "gray_r" (dark curve on white), 0..1, no ticks; the first self-intersection
  (:func:`pipeline_lib.squiggles.intersection_points`) is a small red circle.
* Spread: with several seeds, curves are the mean over seeds with a +-1 sd band and the
  per-seed values as dots; with one seed, rates carry a 95% Wilson interval over the
  samples (a mean of per-sample fractions, such as the Gaussian-noise accuracy, a
  normal 95% interval over samples). CDFs of the distance to the boundary pool the
  samples of all seeds (Wilson band over the pooled samples).
* Stores of the same seed are matched by their ``seed`` attribute when every store has
  one, else by position in the lists; samples by their ``sample`` coordinate.
"""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)

from . import generators as sq
from .experiment import (
    attack_vectors,
    cdf,
    clean_correct,
    distance_groups,
    high_frequency_share,
    steer_agreement,
)

PALETTE = sns.color_palette("colorblind")
LABEL_COLORS = {1: PALETTE[1], 0: PALETTE[0]}  # frames: self-intersecting / not
MARK = dict(marker="o", ms=5, mfc="none", mec="red", mew=1.0, ls="none", gid="intersection")
CDF_STYLES = {
    "all": dict(color=PALETTE[0], ls="-", name="attacked curves"),
    "correct": dict(color=PALETTE[7], ls=":", name="correct (random sample)"),
    "mis": dict(color=PALETTE[1], ls="--", name="misclassified (clean)"),
    "adv": dict(color=PALETTE[2], ls="-.", name="adversarial errors"),
}
Z95 = 1.959963984540054
CONTROL = "random subspace (control)"
VARIANT_ORDER = {v: i for i, v in enumerate(sq.VARIANTS)}


# ----------------------------------------------------------------------------- helpers


def wilson(k, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of k successes in n trials (NaN where n = 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = z * z
        den = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
    return centre - half, centre + half


def _list(stores) -> list[xr.Dataset]:
    if stores is None:
        return []
    return [stores] if isinstance(stores, xr.Dataset) else list(stores)


def _pairs(a: list[xr.Dataset], b: list[xr.Dataset]) -> list[tuple[xr.Dataset, xr.Dataset]]:
    """Stores of the same seed: by the ``seed`` attribute when all have one, else by
    position."""
    if a and b and all("seed" in s.attrs for s in [*a, *b]):
        by_seed = {int(s.attrs["seed"]): s for s in b}
        return [(s, by_seed[int(s.attrs["seed"])]) for s in a if int(s.attrs["seed"]) in by_seed]
    return list(zip(a, b, strict=False))


def _same_eps(stores: list[xr.Dataset], what: str) -> np.ndarray:
    eps = np.asarray(stores[0].eps.values, dtype=np.float64)
    for s in stores[1:]:
        e = np.asarray(s.eps.values, dtype=np.float64)
        if e.shape != eps.shape or not np.allclose(e, eps):
            raise ValueError(f"{what} stores have different eps grids: {eps} vs {e}")
    return eps


def _eps_index(eps: np.ndarray, value: float, what: str) -> int:
    k = int(np.argmin(np.abs(np.log(eps) - math.log(value))))
    if not np.isclose(eps[k], value, rtol=1e-6):
        raise ValueError(f"{what}: eps {value} is not in the store's grid {eps.tolist()}")
    return k


def _sigma_keys(pixels: dict) -> tuple[float | None, float | None]:
    """The sigma-0 key and the largest positive sigma key of a pixel-store dict."""
    sig = [float(s) for s in pixels if _list(pixels[s])]
    zero = next((s for s in sig if s == 0.0), None)
    pos = [s for s in sig if s > 0.0]
    return zero, (max(pos) if pos else None)


def _get(pixels: dict, sigma: float | None):
    if sigma is None:
        return None
    for k, v in pixels.items():
        if float(k) == sigma:
            return v
    return None


def _seed_note(n_seeds: int, n_samples: int | None = None, kind: str = "Wilson") -> str:
    if n_seeds > 1:
        return f"band: ±1 sd over {n_seeds} seeds; dots: seeds"
    if n_samples is None:
        return "1 seed"
    what = "95% Wilson interval" if kind == "Wilson" else "95% normal interval"
    return f"1 seed; band: {what} over {n_samples} samples"


def _spread(
    ax,
    x,
    per_seed: list[np.ndarray],
    *,
    binary: bool,
    color,
    label: str,
    ls: str = "-",
    marker: str = "o",
    n_trials: int | None = None,
) -> Line2D:
    """Mean over seeds of per-seed curves and their spread (see the module docstring).

    ``per_seed``: one array per seed, either (n_samples, len(x)) per-sample values (the
    seed's curve is their mean) or (len(x),) a rate with ``n_trials`` samples behind it.
    Returns the mean line (its y data are the plotted means)."""
    x = np.asarray(x, dtype=np.float64)
    curves, samples = [], []
    for v in per_seed:
        v = np.asarray(v, dtype=np.float64)
        curves.append(v.mean(axis=0) if v.ndim == 2 else v)
        samples.append(v if v.ndim == 2 else None)
    curves = np.stack(curves)
    mean = curves.mean(axis=0)
    (line,) = ax.plot(x, mean, color=color, ls=ls, marker=marker, ms=4, label=label, zorder=3)
    if len(curves) > 1:
        sd = curves.std(axis=0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.18, lw=0, zorder=1)
        for c in curves:
            ax.plot(x, c, color=color, ls="none", marker=".", ms=4, alpha=0.6, zorder=2)
    else:
        s = samples[0]
        if s is not None and s.shape[0] > 0:
            n = s.shape[0]
            if binary:
                lo, hi = wilson(s.sum(axis=0), n)
            else:
                half = Z95 * s.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.nan
                lo, hi = mean - half, mean + half
        elif n_trials:
            lo, hi = wilson(mean * n_trials, n_trials)
        else:
            lo = hi = None
        if lo is not None:
            ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0, zorder=1)
    return line


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _show(ax, img, mark=None, label: int | None = None, title: str | None = None) -> None:
    """An image (1, n, n) on gray_r 0..1; ``mark``: a curve point (x, y) to circle;
    ``label``: frame colour by true label."""
    a = np.asarray(img, dtype=np.float64)
    a = a[0] if a.ndim == 3 else a
    ax.imshow(a, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    _bare(ax)
    if mark is not None and np.isfinite(mark).all():
        nr, nc = a.shape
        ax.plot(mark[1] * (nc - 1), mark[0] * (nr - 1), **MARK)
    if label is not None:
        for sp in ax.spines.values():
            sp.set_edgecolor(LABEL_COLORS[int(label)])
            sp.set_linewidth(1.6)
    if title:
        ax.set_title(title, fontsize=6)


def _grid_shape(n: int) -> tuple[int, int]:
    ncol = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / ncol)), ncol


def _gallery(sf, images, marks, labels, n: int, title: str, empty: str = "none") -> None:
    """Up to ``n`` images in a grid on subfigure ``sf`` (a text panel when empty)."""
    sf.suptitle(title, fontsize=8)
    if len(images) == 0:
        ax = sf.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, empty, ha="center", va="center", fontsize=11, transform=ax.transAxes)
        return
    nrow, ncol = _grid_shape(n)
    axes = sf.subplots(nrow, ncol, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(images):
            _show(ax, images[k], marks[k], None if labels is None else labels[k])
        else:
            ax.set_axis_off()


def _pick_errors(lab: np.ndarray, err: np.ndarray, n: int, rng) -> np.ndarray:
    """Up to n random error indices, self-intersecting (label 1) ones first."""
    one = rng.permutation(np.flatnonzero(err & (lab == 1)))
    zero = rng.permutation(np.flatnonzero(err & (lab == 0)))
    return np.concatenate([one, zero])[:n].astype(int)


# ----------------------------------------------------------------------------- Fig. 1


def examples_figure(data: xr.Dataset, n: int = 25, seed: int = 0):
    """Fig. 1 / 15 / 20: ``n`` random examples of each class (numpy Generator seeded with
    ``seed``): (a) self-intersecting, with the first self-intersection circled in red;
    (b) non-intersecting. The title gives the store's label fractions (Table 4)."""
    lab = np.asarray(data["label"].values)
    if lab.size == 0:
        raise ValueError("examples_figure: the dataset store has no samples")
    if n < 1:
        raise ValueError(f"examples_figure: n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    dist = sq.label_distribution(data)
    nrow, ncol = _grid_shape(n)
    fig = plt.figure(figsize=(2 * 0.95 * ncol + 0.6, 0.95 * nrow + 1.3), layout="constrained")
    subs = fig.subfigures(1, 2, wspace=0.03)
    for sf, c, tag in zip(subs, (1, 0), ("(a)", "(b)"), strict=True):
        idx = np.flatnonzero(lab == c)
        pick = np.sort(rng.choice(idx, size=min(n, idx.size), replace=False)) if idx.size else idx
        images = data["image"].values[pick]
        if c == 1 and pick.size:
            marks = sq.intersection_points(data["points"].values[pick])
        else:
            marks = [None] * pick.size
        _gallery(
            sf,
            images,
            marks,
            None,
            n,
            f"{tag} {sq.LABEL_NAMES[c]}: {pick.size} random of {idx.size}",
        )
    v = data.attrs.get("variant", "?")
    fig.suptitle(
        f"Squiggles {v} ({data.attrs.get('split', '?')} split, n = {dist['n']}): "
        f"self-intersecting {dist['self_intersecting']:.1%}, non-intersecting "
        f"{dist['non_intersecting']:.1%} (Table 4)\nred circle: first self-intersection of "
        "the polyline (image rows = x, columns = y: curves appear transposed)",
        fontsize=9,
    )
    return fig


# ----------------------------------------------------------------------------- Table 6


def _key_name(key) -> str:
    return f"{key[0]}, σ = {float(key[1]):g}"


def generalization_figure(trainings: dict[tuple[str, float], list[xr.Dataset]]):
    """Table 6 and training curves. Left: accuracy / ROC-AUC of every trained model
    (rows: training variant and pixel-noise sigma, the sigma = 0 rows being Table 6) on
    every variant's test set (columns; the diagonal is within-distribution), mean ± sd
    over seeds; colour = mean accuracy. Right: test accuracy on the own variant's test
    set and training loss per epoch."""
    runs = {k: _list(v) for k, v in trainings.items() if _list(v)}
    if not runs:
        raise ValueError("generalization_figure: no training stores")
    keys = sorted(runs, key=lambda k: (float(k[1]), VARIANT_ORDER.get(k[0], 99), k[0]))
    cols = [str(t) for t in runs[keys[0]][0]["test_variant"].values]
    acc = np.full((len(keys), len(cols), 2), np.nan)  # mean, sd
    auc = np.full((len(keys), len(cols), 2), np.nan)
    for r, k in enumerate(keys):
        for c, t in enumerate(cols):
            a = [float(s["accuracy"].sel(test_variant=t)) for s in runs[k]]
            u = [float(s["roc_auc"].sel(test_variant=t)) for s in runs[k]]
            acc[r, c] = np.mean(a), (np.std(a, ddof=1) if len(a) > 1 else np.nan)
            auc[r, c] = np.mean(u), (np.std(u, ddof=1) if len(u) > 1 else np.nan)
    fig = plt.figure(figsize=(4.2 + 2.3 * len(cols) + 5.5, max(5.0, 1.0 + 0.9 * len(keys))))
    fig.set_layout_engine("constrained")
    gs = fig.add_gridspec(2, 2, width_ratios=[0.9 + 0.8 * len(cols), 2.6])
    ax = fig.add_subplot(gs[:, 0])
    im = ax.imshow(acc[..., 0], cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
    for r, k in enumerate(keys):
        for c, t in enumerate(cols):
            m, s = acc[r, c]
            am, asd = auc[r, c]
            txt = f"acc {100 * m:.1f}%" + (f" ± {100 * s:.1f}" if np.isfinite(s) else "")
            txt += f"\nAUC {am:.4f}" + (f" ± {asd:.4f}" if np.isfinite(asd) else "")
            txt += "\n(within)" if t == k[0] else "\n(cross)"
            ax.text(
                c,
                r,
                txt,
                ha="center",
                va="center",
                fontsize=7,
                bbox=dict(boxstyle="round,pad=0.2", fc="w", ec="none", alpha=0.8),
            )
    ax.set_xticks(range(len(cols)), [f"{t} test set" for t in cols], fontsize=8)
    ax.set_yticks(
        range(len(keys)),
        [f"trained on {_key_name(k)}\n({len(runs[k])} seed(s))" for k in keys],
        fontsize=8,
    )
    ax.set_xlabel("test variant")
    ax.set_ylabel("training data (σ: pixel-noise std in training)")
    ax.set_title("Table 6: within / cross-distribution accuracy and ROC-AUC", fontsize=9)
    fig.colorbar(im, ax=ax, label="test accuracy (mean over seeds)", shrink=0.8)

    a_acc = fig.add_subplot(gs[0, 1])
    a_loss = fig.add_subplot(gs[1, 1], sharex=a_acc)
    n_seeds = max(len(v) for v in runs.values())
    n_test = None
    for i, k in enumerate(keys):
        col = PALETTE[i % len(PALETTE)]
        ls = "-" if float(k[1]) == 0 else "--"
        stores = runs[k]
        ep = np.asarray(stores[0]["epoch"].values)
        if all("test_accuracy" in s for s in stores):
            tp = stores[0].get("test_proba")
            n_test = int(tp.sizes["sample"]) if tp is not None else None
            _spread(
                a_acc,
                ep,
                [s["test_accuracy"].values for s in stores],
                binary=True,
                color=col,
                label=_key_name(k),
                ls=ls,
                n_trials=n_test,
            )
        _spread(
            a_loss,
            ep,
            [s["loss"].values for s in stores],
            binary=False,
            color=col,
            label=_key_name(k),
            ls=ls,
        )
    a_acc.set_ylabel("test accuracy (own variant)")
    a_acc.set_title(f"test accuracy after each epoch ({_seed_note(n_seeds, n_test)})", fontsize=9)
    a_acc.legend(fontsize=7, title="training data", title_fontsize=7)
    a_acc.tick_params(labelbottom=False)
    losses = np.concatenate([s["loss"].values for v in runs.values() for s in v])
    if losses.size and np.all(losses > 0) and losses.max() > 10 * losses.min():
        a_loss.set_yscale("log")
    a_loss.set_ylabel("training cross-entropy (nats)")
    a_loss.set_xlabel("epoch")
    a_loss.set_title("mean training loss per epoch", fontsize=9)
    a_loss.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("Squiggles classifiers: generalization within and across variants", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- Fig. 9


def _latent_indicators(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-sample (sample, eps) indicators whose means are ``latent_curves``."""
    y = ds["label"].values[:, None]
    pred, lab = ds["pred_adv"].values, ds["label_adv"].values
    ok = clean_correct(ds)[:, None]
    return {
        "accuracy": pred == lab,
        "unchanged": lab == y,
        "adversarial_error": ok & (pred != lab),
        "error_same_label": ok & (pred != lab) & (lab == y),
    }


def lowest_accuracy_eps(latents: list[xr.Dataset]) -> float:
    """The latent eps with the lowest mean accuracy (against the recomputed label)."""
    latents = _list(latents)
    if not latents:
        raise ValueError("no latent stores")
    eps = _same_eps(latents, "latent")
    acc = np.mean([_latent_indicators(s)["accuracy"].mean(axis=0) for s in latents], axis=0)
    return float(eps[int(np.argmin(acc))])


def latent_figure(latents: list[xr.Dataset]):
    """Fig. 9: the latent-space (on-manifold) PGD attack against eps. (a) accuracy
    against the true label recomputed after the attack, the lowest one starred (the
    clean accuracy dotted); (b) fraction of samples whose true label did not change;
    (c) adversarial errors (correct on the clean image, wrong after the attack), all and
    those with an unchanged true label (Fig. 7b's kind)."""
    latents = _list(latents)
    if not latents:
        raise ValueError("latent_figure: no latent stores")
    eps = _same_eps(latents, "latent")
    ind = [_latent_indicators(s) for s in latents]
    n = int(latents[0].sizes["sample"])
    note = _seed_note(len(latents), n)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
    ax = axes[0]
    line = _spread(
        ax, eps, [d["accuracy"] for d in ind], binary=True, color=PALETTE[0], label="accuracy"
    )
    acc = line.get_ydata()
    k = int(np.argmin(acc))
    ax.plot(
        eps[k],
        acc[k],
        marker="*",
        ms=15,
        color=PALETTE[3],
        ls="none",
        label=f"lowest: {acc[k]:.1%} at ε = {eps[k]:g}",
        gid="lowest",
        zorder=4,
    )
    clean = np.mean([clean_correct(s).mean() for s in latents])
    ax.axhline(clean, color="0.4", ls=":", lw=1, label=f"clean accuracy {clean:.1%}")
    ax.set_ylabel("accuracy against the recomputed true label")
    ax.set_title("(a) Fig. 9 left: accuracy after the latent attack", fontsize=9)
    ax = axes[1]
    _spread(
        ax,
        eps,
        [d["unchanged"] for d in ind],
        binary=True,
        color=PALETTE[2],
        label="true label unchanged",
    )
    ax.set_ylabel("fraction of samples")
    ax.set_title("(b) Fig. 9 right: true label did not change", fontsize=9)
    ax = axes[2]
    _spread(
        ax,
        eps,
        [d["adversarial_error"] for d in ind],
        binary=True,
        color=PALETTE[3],
        label="adversarial errors (clean correct, wrong after)",
    )
    _spread(
        ax,
        eps,
        [d["error_same_label"] for d in ind],
        binary=True,
        color=PALETTE[4],
        ls="--",
        marker="s",
        label="... with the true label unchanged",
    )
    ax.set_ylabel("fraction of samples")
    ax.set_title("(c) adversarial error rate (against the recomputed label)", fontsize=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("ε: L2 norm bound of the latent perturbation (latent units)")
        ax.legend(fontsize=7)
    v = latents[0].attrs.get("variant", "?")
    fig.suptitle(
        f"On-manifold (latent-space) L2 PGD on the {v} σ = 0 model, true label recomputed "
        f"after the attack; {n} test samples, {note}",
        fontsize=10,
    )
    return fig


# ----------------------------------------------------------------------------- Fig. 8


def _distance_groups(
    distances: list[xr.Dataset], attacks: list[xr.Dataset], kind: str, eps: float | None
) -> tuple[dict[str, list[np.ndarray]], float]:
    """Per seed, the distances of the attacked / correct / misclassified curves and the
    adversarial errors of one attack (:func:`experiment.distance_groups`)."""
    groups: dict[str, list[np.ndarray]] = {k: [] for k in CDF_STYLES}
    pairs = _pairs(distances, attacks)
    if not pairs:
        raise ValueError(f"no {kind} store matches a distance store (seed attrs differ?)")
    used = float("nan")
    for d, a in pairs:
        a_eps = np.asarray(a["eps"].values, dtype=np.float64)
        if kind == "latent":
            e = _eps_index(a_eps, eps, "latent store")
            gr = distance_groups(d, a, {}, float(a_eps[e]))
            adv = gr["adversarial_latent"][0]
        else:
            e = _eps_index(a_eps, float(a.attrs["focus_eps"]), "pixel store")
            gr = distance_groups(d, None, {"x": a})
            adv = gr["adversarial_pixel_sigmax"][0]
        used = float(a_eps[e])
        dist = np.asarray(d["distance"].values, dtype=np.float64)
        for name, rows in (
            ("all", gr["all"][0]),
            ("correct", gr["correct"][0]),
            ("mis", gr["misclassified"][0]),
            ("adv", adv),
        ):
            groups[name].append(dist[rows])
    return groups, used


def _by_steering(distances: list[xr.Dataset]) -> dict[float, list[xr.Dataset]]:
    """Distance stores by the sigma of their steering model (0 when unrecorded), in the
    order first seen (the main steering model first)."""
    out: dict[float, list[xr.Dataset]] = {}
    for d in distances:
        out.setdefault(float(d.attrs.get("steer_sigma", 0.0)), []).append(d)
    return out


def _steering_panel(ax, grid, by_steer, latents) -> None:
    """Misclassified and correct curves under each steering model, with how often the
    steering model agrees with the model under test on them."""
    x = np.append(grid, grid[-1] * 1.6)
    for i, (g, stores) in enumerate(by_steer.items()):
        col = (PALETTE[4], PALETTE[9], PALETTE[5])[i % 3]
        for name, ls in (("misclassified", "--"), ("correct", ":")):
            vals, agree = [], []
            for d, lat in _pairs(stores, latents) or [(d, None) for d in stores]:
                rows = distance_groups(d, lat, {})[name][0]
                vals.append(np.asarray(d["distance"].values, dtype=np.float64)[rows])
                agree.append(steer_agreement(d, lat, {})[name])
            v, a = np.concatenate(vals), np.concatenate(agree)
            if v.size == 0:
                continue
            c = cdf(v, grid)
            ax.step(
                x, np.append(c, c[-1]), where="post", color=col, ls=ls, lw=2,
                label=f"steered by σ = {g:g}: {name} (n = {v.size}; agrees {a.mean():.0%})",
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlim(grid[0] / 1.3, x[-1])
    ax.set_xlabel("upper bound on the latent L2 distance to the true boundary")
    ax.legend(fontsize=6.5, loc="upper left")


def _cdf_panel(ax, grid: np.ndarray, groups: dict[str, list[np.ndarray]]) -> None:
    x = np.append(grid, grid[-1] * 1.6)  # the last step drawn out to the right edge
    for name, st in CDF_STYLES.items():
        vals = np.concatenate(groups[name]) if groups[name] else np.zeros(0)
        n = vals.size
        if n == 0:
            ax.plot([], [], color=st["color"], ls=st["ls"], label=f"{st['name']} (n = 0)")
            continue
        c = cdf(vals, grid)
        y = np.append(c, c[-1])
        lab = f"{st['name']} (n = {n}; ≤ {grid[0]:g}: {c[0]:.0%}, finite: {c[-1]:.0%})"
        ax.step(x, y, where="post", color=st["color"], ls=st["ls"], lw=2, label=lab, gid=name)
        lo, hi = wilson(c * n, n)
        ax.fill_between(
            x,
            np.append(lo, lo[-1]),
            np.append(hi, hi[-1]),
            step="post",
            color=st["color"],
            alpha=0.12,
            lw=0,
        )
    ax.set_xscale("log")
    ax.set_xlim(grid[0] / 1.3, x[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("upper bound on the latent L2 distance to the true boundary")
    ax.set_ylabel("fraction of samples with distance ≤ x")
    ax.legend(fontsize=6.5, loc="upper left")


def distance_figure(
    distances: list[xr.Dataset],
    latents: list[xr.Dataset],
    pixels: dict[float, list[xr.Dataset]],
    latent_eps: float | None = None,
):
    """Fig. 8 a-c: cumulative fraction of samples whose distance to the true decision
    boundary (from the navigator-steered latent attack) is <= x, for all samples
    (solid), the clean-misclassified ones (dashed orange) and the adversarial errors
    (clean correct, wrong after the attack). (a) latent attack on the sigma-0 model at
    ``latent_eps`` (default: the eps of lowest mean accuracy; wrong = prediction !=
    recomputed label); (b) pixel PGD on the sigma-0 model at its focus eps; (c) pixel
    PGD on the largest-sigma model. Samples of all seeds pooled; a sample inf away
    (no flip found on the grid) never counts, so each curve ends at the fraction of
    finite distances."""
    distances = _list(distances)
    if not distances:
        raise ValueError("distance_figure: no distance stores")
    by_steer = _by_steering(distances)
    main_steer, distances = next(iter(by_steer.items()))
    latents = _list(latents)
    pixels = {float(k): _list(v) for k, v in (pixels or {}).items()}
    if not latents and not any(pixels.values()):
        raise ValueError("distance_figure: no latent or pixel stores")
    grid = _same_eps(distances, "distance")
    if latent_eps is None and latents:
        latent_eps = lowest_accuracy_eps(latents)
    zero, big = _sigma_keys(pixels)
    panels = [
        ("(a) latent attack, σ = 0 model", "latent", latents),
        ("(b) pixel attack, σ = 0 model", "pixel", _get(pixels, zero) or []),
        (
            f"(c) pixel attack, σ = {big:g} model"
            if big is not None
            else "(c) pixel attack, noise-trained model",
            "pixel",
            _get(pixels, big) or [],
        ),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(21.0, 5.2), layout="constrained", sharey=True)
    for ax, (title, kind, stores) in zip(axes, panels, strict=False):
        if not stores:
            ax.text(0.5, 0.5, "no stores", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title, fontsize=9)
            continue
        groups, used = _distance_groups(distances, stores, kind, latent_eps)
        _cdf_panel(ax, grid, groups)
        ax.set_title(f"{title}, attack ε = {used:g}", fontsize=9)
    _steering_panel(axes[3], grid, by_steer, latents)
    axes[3].set_title(
        "(d) the search with each steering model: misclassified (dashed) and correct "
        "(dotted)\ncurves; legend: agreement of the steering model with the σ = 0 model",
        fontsize=9,
    )
    v = distances[0].attrs.get("variant", latents[0].attrs.get("variant", "?") if latents else "?")
    fig.suptitle(
        f"Fig. 8 ({v}): distance to the true decision boundary (smallest ε of the latent attack "
        f"steered by the other variant's σ = {main_steer:g} model that flips the true label), "
        f"{len(distances)} seed(s) pooled\nbands: 95% Wilson interval over the pooled curves; "
        "legend: n, fraction at the smallest ε, fraction with a finite distance",
        fontsize=10,
    )
    return fig


# ----------------------------------------------------------------------------- Fig. 25/26


def attack_vectors_figure(data: xr.Dataset, pixels: dict[float, xr.Dataset], n: int = 4):
    """Fig. 25/26: pixel PGD errors at the focus eps of each noise level's model (one
    block of columns per sigma): original, attacked image and attack vector (diverging
    colour map, symmetric per image), the first ``n`` errors of the store; each vector's
    share of power above half the Nyquist frequency (:func:`high_frequency_share`: 0.75
    for white noise, ~1 for a checkerboard) in its title, the median over all errors in
    the block's title."""
    pixels = {float(k): v for k, v in (pixels or {}).items()}
    if not pixels:
        raise ValueError("attack_vectors_figure: no pixel stores")
    sigmas = sorted(pixels)
    blocks = []
    for g in sigmas:
        px = pixels[g]
        x = data["image"].values[: px.sizes["sample"]]
        rows, vec = attack_vectors(px, x)
        blocks.append((g, px, x, rows, vec, high_frequency_share(vec) if len(vec) else []))
    n_rows = max(1, min(n, max(len(b[3]) for b in blocks)))
    fig = plt.figure(
        figsize=(3.3 * 3 * len(blocks) / 1.6, 2.1 * n_rows + 0.9), layout="constrained"
    )
    subs = np.atleast_1d(fig.subfigures(1, len(blocks)))
    for sub, (g, px, x, rows, vec, hf) in zip(subs, blocks, strict=True):
        axes = sub.subplots(n_rows, 3, squeeze=False)
        med = f"{np.nanmedian(hf):.2f}" if len(hf) else "–"
        sub.suptitle(
            f"σ = {g:g} model: {len(rows)} errors at ε = {px.attrs['focus_eps']:g}; median "
            f"high-frequency share {med}",
            fontsize=9,
        )
        for r in range(n_rows):
            ax_o, ax_a, ax_v = axes[r]
            if r >= len(rows):
                for ax in (ax_o, ax_a, ax_v):
                    ax.set_axis_off()
                continue
            i = rows[r]
            _show(ax_o, x[i], title="original" if r == 0 else None)
            _show(
                ax_a,
                np.clip(px["x_adv_focus"].values[i], 0, 1),
                title="attacked" if r == 0 else None,
            )
            v = vec[r][0]
            vmax = float(np.abs(v).max()) or 1.0
            ax_v.imshow(
                v, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest", gid="vector"
            )
            _bare(ax_v)
            ax_v.set_title(
                ("attack vector\n" if r == 0 else "") + f"high freq. {hf[r]:.2f}", fontsize=7
            )
    fig.suptitle(
        "Fig. 25/26: pixel PGD adversarial errors (clean correct, fooled) at the focus ε: "
        "original, attacked (clipped to [0, 1] for display), attack vector",
        fontsize=10,
    )
    return fig


# ----------------------------------------------------------------------------- Fig. 10


def pixel_figure(pixels: dict[float, list[xr.Dataset]]):
    """Fig. 10: accuracy against the L2 norm eps of a pixel perturbation, for PGD (solid)
    and Gaussian noise of exactly that norm (dashed, accuracy averaged over the noise
    draws), one colour per training noise sigma; dotted line at the focus eps."""
    pixels = {float(k): _list(v) for k, v in (pixels or {}).items() if _list(v)}
    if not pixels:
        raise ValueError("pixel_figure: no pixel stores")
    fig, ax = plt.subplots(figsize=(8.5, 5.4), layout="constrained")
    focus = set()
    n_seeds = max(len(v) for v in pixels.values())
    n_samples = None
    for i, s in enumerate(sorted(pixels)):
        stores = pixels[s]
        eps = _same_eps(stores, f"pixel σ = {s:g}")
        col = PALETTE[i % len(PALETTE)]
        n_samples = int(stores[0].sizes["sample"])
        clean = np.mean([clean_correct(d).mean() for d in stores])
        fe = float(stores[0].attrs.get("focus_eps", np.nan))
        pgd = _spread(
            ax,
            eps,
            [~d["pgd_success"].values.astype(bool) for d in stores],
            binary=True,
            color=col,
            label=f"σ = {s:g}",
        )
        pgd.set_gid(f"pgd sigma={s:g}")
        noise = _spread(
            ax,
            eps,
            [d["noise_accuracy"].values for d in stores],
            binary=False,
            color=col,
            label=f"_noise σ = {s:g}",
            ls="--",
            marker="s",
        )
        noise.set_gid(f"noise sigma={s:g}")
        if np.isfinite(fe):
            focus.add(fe)
            k = _eps_index(eps, fe, "pixel store")
            pgd.set_label(
                f"σ = {s:g}: clean {clean:.1%}, at ε = {fe:g} PGD {pgd.get_ydata()[k]:.1%}, "
                f"noise {noise.get_ydata()[k]:.1%}"
            )
    for fe in sorted(focus):
        ax.axvline(fe, color="0.3", ls=":", lw=1.2, gid="focus")
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", ls="-", marker="o", ms=4),
        Line2D([], [], color="0.3", ls="--", marker="s", ms=4),
        Line2D([], [], color="0.3", ls=":"),
    ]
    labels += ["L2 PGD", "Gaussian noise of norm ε (mean over draws)", "focus ε"]
    ax.legend(handles, labels, fontsize=7, title="training noise σ", title_fontsize=7)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("ε: L2 norm of the pixel perturbation (pixel intensities in [0, 1])")
    ax.set_ylabel("accuracy")
    v = next(iter(pixels.values()))[0].attrs.get("variant", "?")
    note = _seed_note(n_seeds, n_samples)
    if n_seeds == 1:
        note += " (PGD; 95% normal interval for the noise accuracy)"
    ax.set_title(
        f"Fig. 10 ({v}): pixel-space PGD vs Gaussian noise of equal norm\n{note}", fontsize=9
    )
    return fig


# ----------------------------------------------------------------------------- Fig. 11


def _pixel_sigma(name: str) -> float | None:
    m = re.fullmatch(r"pixel_sigma([0-9.eE+-]+)", name)
    return float(m.group(1)) if m else None


def decomposition_table(dec: xr.Dataset, data: xr.Dataset) -> pd.DataFrame:
    """The numbers behind :func:`decomposition_figure`: one row per (sample, attack) of
    the decomposition store, sample-major in store order, with columns

    * ``position`` (index in ``dec``), ``sample`` (its coordinate), ``label`` (``dec``'s
      labels when all are given, else the dataset's), ``tangent_rank``;
    * ``fooled``: the reference attack (the sigma-0 pixel attack, else the first pixel
      attack, else the first attack; ``attrs["ref"]``) succeeded on the sample: wrong on
      x + delta and, when the store has ``pred_clean``, correct on x;
    * ``rank``: the sample's row in the figure (fooled samples first, each group in store
      order);
    * ``norm`` (|delta|_2), ``scale`` (the symmetric colour limit of the sample's three
      panels for that attack: max |delta|, |on|, |off|; 1 when all are 0),
      ``on_share``, ``random_share``, ``pred_full``, ``pred_on``, ``pred_off``.

    ``attrs``: ``ref``, ``n_features``, ``tangent_rank_median``, ``rtol``."""
    attacks = [str(a) for a in dec["attack"].values]
    samples = np.asarray(dec["sample"].values)
    labels = np.asarray(data.sel(sample=samples)["label"].values).astype(int)
    if "label" in dec and (dec["label"].values >= 0).all():
        labels = np.asarray(dec["label"].values).astype(int)
    ref = next((a for a in attacks if _pixel_sigma(a) == 0.0), None)
    ref = ref or next((a for a in attacks if a.startswith("pixel")), attacks[0])
    fooled = dec["pred_full"].sel(attack=ref).values != labels
    if "pred_clean" in dec:  # an attack success: correct on x, wrong on x + delta
        fooled &= dec["pred_clean"].sel(attack=ref).values == labels
    rank = np.empty(len(samples), dtype=np.int64)
    rank[np.concatenate([np.flatnonzero(fooled), np.flatnonzero(~fooled)])] = np.arange(
        len(samples)
    )
    tangent_rank = np.asarray(dec["tangent_rank"].values, dtype=np.float64)

    def per_cell(name: str, dtype=None) -> np.ndarray:
        return np.asarray(dec[name].transpose("sample", "attack", ...).values, dtype=dtype)

    delta = per_cell("delta", np.float64)[:, :, 0]  # (sample, attack, row, col)
    on = per_cell("delta_on", np.float64)[:, :, 0]
    cell = {
        v: per_cell(v) for v in ("on_share", "random_share", "pred_full", "pred_on", "pred_off")
    }
    rows = []
    for i in range(len(samples)):
        for j, a in enumerate(attacks):
            d = delta[i, j]
            scale = max(float(np.abs(p).max()) for p in (d, on[i, j], d - on[i, j]))
            rows.append(
                {
                    "position": i,
                    "sample": samples[i],
                    "attack": a,
                    "label": int(labels[i]),
                    "tangent_rank": tangent_rank[i],
                    "fooled": bool(fooled[i]),
                    "rank": int(rank[i]),
                    "norm": float(np.linalg.norm(d)),
                    "scale": scale if scale > 0 else 1.0,
                    **{v: float(cell[v][i, j]) for v in ("on_share", "random_share")},
                    **{v: int(cell[v][i, j]) for v in ("pred_full", "pred_on", "pred_off")},
                }
            )
    table = pd.DataFrame(rows)
    table.attrs.update(
        ref=ref,
        n_features=int(dec.attrs.get("n_features", np.prod(dec["delta"].shape[-3:]))),
        tangent_rank_median=float(np.median(tangent_rank)),
        rtol=dec.attrs.get("rtol", "?"),
    )
    return table


def decomposition_figure(dec: xr.Dataset, data: xr.Dataset, n_rows: int = 4):
    """Fig. 11: attack vectors split into their on-manifold component (the projection on
    the tangent space of the image manifold at the clean image) and the off-manifold
    rest: :func:`draw_decomposition` of :func:`decomposition_table`."""
    if dec.sizes.get("sample", 0) == 0 or dec.sizes.get("attack", 0) == 0:
        raise ValueError("decomposition_figure: the decomposition store is empty")
    if n_rows < 1:
        raise ValueError(f"decomposition_figure: n_rows must be >= 1, got {n_rows}")
    return draw_decomposition(decomposition_table(dec, data), dec, data, n_rows)


def draw_decomposition(table: pd.DataFrame, dec: xr.Dataset, data: xr.Dataset, n_rows: int = 4):
    """Draw :func:`decomposition_table` (pixels from ``dec`` and ``data``). Rows: the
    first ``n_rows`` samples by ``rank`` (samples where the reference attack succeeded
    first). Columns: the clean image, then per attack the attack vector, its on- and
    off-manifold components (RdBu_r, symmetric colour scale shared by the three panels
    of one attack in one row; titles: the model's prediction on x + component, red when
    wrong). Bottom: the on-manifold share of every decomposed sample per attack next to
    the share in a random subspace of the same rank (the control)."""
    attacks = list(dict.fromkeys(table["attack"]))
    per_sample = table.drop_duplicates("position")
    shown = per_sample[per_sample["rank"] < n_rows].sort_values("rank")
    ref = table.attrs["ref"]
    ncol = 1 + 3 * len(attacks)
    fig = plt.figure(figsize=(1.25 * ncol + 0.4, 1.45 * len(shown) + 4.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.45 * len(shown) + 0.5, 3.6])
    axes = top.subplots(len(shown), ncol, squeeze=False)
    clean = data.sel(sample=shown["sample"].to_numpy())
    marks = sq.intersection_points(clean["points"].values)
    for r, row in enumerate(shown.itertuples()):
        lab = row.label
        _show(
            axes[r, 0],
            clean["image"].values[r],
            marks[r] if lab == 1 else None,
            title=f"clean x, sample {int(row.sample)}\nlabel {lab}"
            + (" (fooled)" if row.fooled else f" ({ref} not fooled)"),
        )
        cells = table[table["position"] == row.position].set_index("attack")
        for j, a in enumerate(attacks):
            cell = dec.isel(sample=row.position).sel(attack=a)
            d = np.asarray(cell["delta"].values, dtype=np.float64)[0]
            on = np.asarray(cell["delta_on"].values, dtype=np.float64)[0]
            c = cells.loc[a]
            vmax = c["scale"]
            heads = [
                f"{a}: δ\n|δ| = {c['norm']:.3g}, ±{vmax:.2g}",
                f"on-manifold\nshare {c['on_share']:.1%}",
                "off-manifold",
            ]
            preds = [int(c[p]) for p in ("pred_full", "pred_on", "pred_off")]
            for q, (img, head, p) in enumerate(zip([d, on, d - on], heads, preds, strict=True)):
                ax = axes[r, 1 + 3 * j + q]
                ax.imshow(img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
                _bare(ax)
                ax.set_title(f"{head}\npred {p}", fontsize=6, color="tab:red" if p != lab else "k")
    top.suptitle(
        "attack vectors δ and their on/off-manifold components (blue < 0 < red; scale "
        "±max per attack and row); 'pred': model's class on x + that vector, red = wrong",
        fontsize=8,
    )
    ax = bottom.subplots()
    rng = np.random.default_rng(0)  # jitter of the dots
    kinds = (
        ("attack vector", "on_share", PALETTE[0], -0.2),
        (CONTROL, "random_share", "0.55", 0.2),
    )
    drawn = False
    for kind, name, col, off in kinds:
        for i, a in enumerate(attacks):
            v = table.loc[table["attack"] == a, name].to_numpy(dtype=np.float64)
            v = v[np.isfinite(v) & (v > 0)]  # NaN: zero attack vector; log axis
            if not v.size:
                continue
            drawn = True
            box = ax.boxplot(
                [v], positions=[i + off], widths=0.3, showfliers=False, patch_artist=True,
                manage_ticks=False,
            )  # fmt: skip
            for patch in box["boxes"]:
                patch.set(facecolor=col, alpha=0.35)
            for med_line in box["medians"]:
                med_line.set(color="k")
            x = i + off + rng.uniform(-0.09, 0.09, v.size)
            ax.plot(x, v, ls="none", marker="o", ms=3.5, color=col, alpha=0.85, gid=name)
        ax.plot([], [], ls="none", marker="s", ms=7, color=col, alpha=0.6, label=kind)
    if drawn:
        ax.set_yscale("log")
    ax.set_xticks(range(len(attacks)), attacks)
    ax.set_xlim(-0.6, len(attacks) - 0.4)
    nf = table.attrs["n_features"]
    med = table.attrs["tangent_rank_median"]
    ax.axhline(med / nf, color="0.3", ls=":", lw=1, label=f"rank / n² = {med / nf:.2g}")
    ax.set_ylabel("|on-manifold part|² / |δ|² (log)")
    ax.set_xlabel("attack")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(
        f"on-manifold share of the attack vectors ({len(per_sample)} samples); tangent "
        f"rank: median {med:g} of {nf} pixels (singular values > {table.attrs['rtol']} "
        "x max)",
        fontsize=9,
    )
    v = data.attrs.get("variant", "?")
    fig.suptitle(f"Fig. 11 ({v}): on/off-manifold decomposition of attack vectors", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- Fig. 7


ERROR_PANELS = ("a", "b", "c", "d")


def errors_table(
    data: xr.Dataset,
    training: xr.Dataset,
    latent: xr.Dataset | None,
    pixels: dict[float, xr.Dataset],
    latent_eps: float,
    n: int = 25,
    seed: int = 0,
) -> pd.DataFrame:
    """The errors behind :func:`errors_figure`: one row per (panel, sample of the panel's
    store), panels in :data:`ERROR_PANELS` order, with columns ``panel``, ``position``
    (index in the panel's store: the dataset for (a), the latent store for (b), the
    pixel store for (c, d)), ``sample`` (its coordinate), ``label`` (true label),
    ``error`` and ``shown`` (slot in the panel's gallery, -1: not shown; up to ``n``
    random errors, numpy Generator seeded with ``seed`` and drawn panel after panel,
    self-intersecting ones first).

    Errors: (a) the sigma-0 model's generalization errors on its test set; (b) latent
    attacks at ``latent_eps`` on clean-correct samples that fooled the model without
    changing the true label; (c, d) pixel PGD successes at the store's focus eps on
    clean-correct samples of the sigma-0 and the largest-sigma model.

    ``attrs``: ``variant``, ``resolution``, ``n`` and ``panels``: per panel None (no
    store) or its ``eps`` and ``eps_index`` (in the store's grid; None for (a)) and
    ``sigma`` (None for (b))."""
    lab = np.asarray(data["label"].values).astype(int)
    if lab.size == 0:
        raise ValueError("errors_figure: the dataset store has no samples")
    variant = str(data.attrs.get("variant", training.attrs.get("variant")))
    rng = np.random.default_rng(seed)
    parts, panels = [], {}

    def add(panel: str, store: xr.Dataset, labels: np.ndarray, err: np.ndarray, **info):
        pick = _pick_errors(labels, err, n, rng)
        shown = np.full(labels.size, -1, dtype=np.int64)
        shown[pick] = np.arange(pick.size)
        parts.append(
            pd.DataFrame(
                {
                    "panel": panel,
                    "position": np.arange(labels.size),
                    "sample": np.asarray(store["sample"].values),
                    "label": labels,
                    "error": np.asarray(err, dtype=bool),
                    "shown": shown,
                }
            )
        )
        panels[panel] = info

    # (a) generalization errors
    p = training["test_proba"].sel(test_variant=variant)
    if "sample" in p.coords:
        p = p.sel(sample=data["sample"].values)
    if p.size != lab.size:
        raise ValueError(f"test_proba has {p.size} samples, the dataset {lab.size}")
    err = (np.asarray(p.values) > 0.5).astype(int) != lab
    add("a", data, lab, err, sigma=0.0, eps=None, eps_index=None)

    # (b) latent errors with the true label unchanged
    panels["b"] = None
    if latent is not None:
        eps = np.asarray(latent["eps"].values, dtype=np.float64)
        e = _eps_index(eps, latent_eps, "errors_figure latent store")
        y = latent["label"].values.astype(int)
        lab_adv = latent["label_adv"].values[:, e].astype(int)
        err = clean_correct(latent) & (latent["pred_adv"].values[:, e] != lab_adv) & (lab_adv == y)
        add("b", latent, y, err, sigma=None, eps=float(eps[e]), eps_index=e)

    # (c, d) pixel errors
    zero, big = _sigma_keys({k: v for k, v in (pixels or {}).items() if v is not None})
    for panel, s in (("c", zero), ("d", big)):
        ds = _get(pixels or {}, s)
        panels[panel] = None
        if ds is None:
            continue
        ds = _list(ds)[0]
        eps = np.asarray(ds["eps"].values, dtype=np.float64)
        fe = float(ds.attrs["focus_eps"])
        e = _eps_index(eps, fe, "errors_figure pixel store")
        y = ds["label"].values.astype(int)
        err = clean_correct(ds) & ds["pgd_success"].values[:, e].astype(bool)
        add(panel, ds, y, err, sigma=s, eps=fe, eps_index=e)
    table = pd.concat(parts, ignore_index=True)
    table.attrs.update(
        variant=variant,
        resolution=int(data["image"].shape[-1]),
        n=n,
        panels={k: panels[k] for k in ERROR_PANELS},
    )
    return table


def errors_figure(
    data: xr.Dataset,
    training: xr.Dataset,
    latent: xr.Dataset | None,
    pixels: dict[float, xr.Dataset],
    latent_eps: float,
    n: int = 25,
    seed: int = 0,
):
    """Fig. 7 a-d (marks as in Fig. 27): :func:`draw_errors` of :func:`errors_table`."""
    table = errors_table(data, training, latent, pixels, latent_eps, n=n, seed=seed)
    return draw_errors(table, data, latent, pixels)


def draw_errors(
    table: pd.DataFrame,
    data: xr.Dataset,
    latent: xr.Dataset | None,
    pixels: dict[float, xr.Dataset],
):
    """Draw :func:`errors_table` (images from the stores it was computed from): up to
    ``n`` errors per panel, errors on self-intersecting curves (predicted
    non-intersecting, the paper's Fig. 7) first, then errors on non-intersecting curves;
    frame colour = true label, red circle = the curve's first self-intersection. (a)
    generalization errors of the sigma-0 model on its test set; (b) latent-space
    adversarial errors whose true label did not change (re-rendered from the attacked
    latent; the attacked curve's intersection); (c) pixel PGD errors of the sigma-0 model
    at its focus eps (clean correct, fooled; the clean curve's intersection); (d) the
    same for the largest-sigma model."""
    variant, res, n = table.attrs["variant"], table.attrs["resolution"], table.attrs["n"]
    panels = table.attrs["panels"]
    nrow, ncol = _grid_shape(n)
    # at least 9 in wide: narrower panels would overlap their two-line titles
    fig = plt.figure(figsize=(max(2 * 0.95 * ncol + 1.0, 9.0), 2 * 0.95 * nrow + 2.2))
    fig.set_layout_engine("constrained")
    subfigs = fig.subfigures(2, 2, wspace=0.03, hspace=0.03).ravel()
    sfs = dict(zip(ERROR_PANELS, subfigs, strict=True))

    def rows(panel: str) -> tuple[pd.DataFrame, np.ndarray, str]:
        """The panel's shown rows in gallery order, their positions and the counts."""
        t = table[table["panel"] == panel]
        err, lab = t["error"].to_numpy(), t["label"].to_numpy()
        counts = (  # on its own line: the panels' titles would overlap otherwise
            f"\n{int((err & (lab == 1)).sum())} self-intersecting + "
            f"{int((err & (lab == 0)).sum())} non-intersecting of {lab.size}"
        )
        shown = t[t["shown"] >= 0].sort_values("shown")
        return shown, shown["position"].to_numpy(dtype=int), counts

    # (a) generalization errors
    shown, pick, counts = rows("a")
    marks = sq.intersection_points(data["points"].values[pick]) if pick.size else []
    _gallery(
        sfs["a"],
        data["image"].values[pick],
        marks,
        shown["label"].to_numpy(),
        n,
        f"(a) generalization errors, σ = 0 model: {counts}",
    )

    # (b) latent errors with the true label unchanged
    title = "(b) latent-space errors (true label unchanged)"
    if panels["b"] is None:
        _gallery(sfs["b"], [], [], None, n, title, empty="no latent store")
    else:
        shown, pick, counts = rows("b")
        if pick.size:
            e = panels["b"]["eps_index"]
            z = torch.as_tensor(np.asarray(latent["latent_adv"].values[pick, e], np.float32))
            with torch.no_grad():
                pts = sq.curve_points(variant, z)
                imgs = sq.render(pts, res).numpy()
            marks = sq.intersection_points(pts.numpy())
        else:
            imgs, marks = [], []
        eps = panels["b"]["eps"]
        labels = shown["label"].to_numpy()
        _gallery(sfs["b"], imgs, marks, labels, n, f"{title} at ε = {eps:g}: {counts}")

    # (c, d) pixel errors
    for panel, tag in (("c", "(c)"), ("d", "(d)")):
        info = panels[panel]
        if info is None:
            what = "σ = 0" if tag == "(c)" else "noise-trained (σ > 0)"
            _gallery(
                sfs[panel], [], [], None, n, f"{tag} pixel PGD errors", empty=f"no {what} store"
            )
            continue
        shown, pick, counts = rows(panel)
        ds = _list(_get(pixels, info["sigma"]))[0]
        clean_pts = data["points"].sel(sample=shown["sample"].to_numpy()).values
        marks = sq.intersection_points(clean_pts) if pick.size else []
        _gallery(
            sfs[panel],
            ds["x_adv_focus"].values[pick],
            marks,
            shown["label"].to_numpy(),
            n,
            f"{tag} pixel PGD errors, σ = {info['sigma']:g} model, ε = {info['eps']:g}: {counts}",
        )
    fig.suptitle(
        f"Fig. 7 ({variant}): errors (clean correct and fooled for attacks), errors on "
        "self-intersecting curves first\nframe: true label (orange self-intersecting, blue "
        "non-intersecting); red circle: first self-intersection (Fig. 27)",
        fontsize=9,
    )
    return fig


def loss_figure(
    latent: dict[str, list[xr.Dataset]], pixel: dict[str, dict[float, list[xr.Dataset]]]
):
    """The attack-objective ablation: accuracy against eps under the latent attack (left,
    against the recomputed true label) and under pixel PGD for each training noise sigma
    (right), one line per objective (the first, the config's, solid; the others dashed);
    mean over seeds."""
    from .experiment import latent_curves, pixel_curves

    if not latent or not pixel:
        raise ValueError("loss_figure: no stores")
    fig, (al, ap) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    styles = ["-", "--", ":"]
    for i, (loss, stores) in enumerate(latent.items()):
        stores = _list(stores)
        eps = _same_eps(stores, f"latent ({loss})")
        acc = np.mean([latent_curves(d)["accuracy"] for d in stores], axis=0)
        al.plot(eps, acc, ls=styles[i % 3], marker="o", color="tab:purple", label=loss)
    for i, (loss, by_sigma) in enumerate(pixel.items()):
        for j, s in enumerate(sorted(by_sigma)):
            stores = _list(by_sigma[s])
            eps = _same_eps(stores, f"pixel σ = {s:g} ({loss})")
            acc = np.mean([pixel_curves(d)["pgd_accuracy"] for d in stores], axis=0)
            ap.plot(
                eps,
                acc,
                ls=styles[i % 3],
                marker="o",
                color=PALETTE[j % len(PALETTE)],
                label=f"{loss}, σ = {s:g}",
            )
    for ax, what in ((al, "latent"), (ap, "pixel")):
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"ε: L2 norm of the {what} perturbation")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7, title="attack objective", title_fontsize=7)
    al.set_title("latent PGD (σ = 0 model; accuracy vs the recomputed label)", fontsize=9)
    ap.set_title("pixel PGD (greedy, per training noise σ)", fontsize=9)
    v = next(iter(latent.values()))[0].attrs.get("variant", "?")
    fig.suptitle(
        f"Squiggles ({v}): the attacks' objective (first: the config's), cross-entropy vs margin",
        fontsize=10,
    )
    return fig


SIZE_PANELS = (
    ("clean_accuracy", "clean test accuracy (sigma 0)"),
    ("latent_min_accuracy", "accuracy under the latent attack\nat its most effective eps"),
    (
        "noise_explained_fraction",
        "share of sigma-0's pixel attacks\nthe noise-trained model resists",
    ),
)


def size_sweep_figure(metrics: dict, variant: str):
    """Issue 20 item 4, "is it only scale?": the sigma-0 model's clean accuracy, the
    latent attack's accuracy at its most effective eps and the noise-explained fraction
    against the training-set size (log scale): one dot per seed, the mean per size
    joined; the latent attack's accuracy with each seed's Wilson 95% interval over the
    attacked curves; on the first panel the paper's Sec. 4.2 points (its ResNet-34 and
    budget, for orientation, not comparison)."""
    rows = pd.DataFrame(metrics[f"squiggles/size_sweep/{variant}/points"])
    n = metrics.get(f"squiggles/size_sweep/{variant}/n_attacked")
    fig, axes = plt.subplots(1, len(SIZE_PANELS), figsize=(5.2 * len(SIZE_PANELS), 4.2),
                             sharex=True, layout="constrained")  # fmt: skip
    for ax, (key, label) in zip(axes, SIZE_PANELS, strict=True):
        ok = rows[key].notna()
        sns.scatterplot(data=rows[ok], x="size", y=key, hue="seed", palette="deep", ax=ax,
                        s=36, legend=ax is axes[0])  # fmt: skip
        mean = rows[ok].groupby("size")[key].mean()
        ax.plot(mean.index, mean.values, color="black", lw=1.2, label="mean over seeds")
        if key == "latent_min_accuracy" and n:
            acc = rows.loc[ok, key].to_numpy(dtype=float)
            lo, hi = wilson(np.round(acc * n), n)
            ax.errorbar(rows.loc[ok, "size"], acc, yerr=[acc - lo, hi - acc], fmt="none",
                        ecolor="grey", elinewidth=0.8, capsize=2, zorder=1)  # fmt: skip
            ax.set_title(f"bars: Wilson 95% over the {n} attacked curves", fontsize=8)
        if key == "noise_explained_fraction" and ok.any():
            # a share on its natural 0..1 scale (below 0: the noise-trained model is worse),
            # so that seed-to-seed differences of a few curves do not fill the panel
            ax.set_ylim(min(0.0, rows.loc[ok, key].min() - 0.05), 1.02)
        ax.set_xscale("log")
        ax.set_xlabel("training curves")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    paper = metrics.get("squiggles/size_sweep/paper_sec42_accuracy", [])
    if paper:
        axes[0].scatter([p["size"] for p in paper], [p["accuracy"] for p in paper],
                        marker="x", color="tab:red", s=50, zorder=5,
                        label="paper Sec. 4.2 (ResNet-34, SineNet)")  # fmt: skip
    axes[0].legend(fontsize=7, loc="lower right", title="seed", title_fontsize=7)
    fig.suptitle(
        f"{variant}: is it only scale? Training-set size against clean accuracy, the latent "
        f"attack and noise training (attacks on the first {n} test curves)",
        fontsize=10,
    )
    return fig


def resolution_figure(metrics: dict, variant: str):
    """Sec. 4.7 / Fig. 12: (a) accuracy under pixel PGD against eps of the sigma-0
    (solid) and noise-trained (dashed) models at each side, and (b) under the latent
    attack, mean over seeds; the noise-trained model's focus eps x factor (the same
    perturbation per pixel) is marked on (a)."""
    curves = metrics[f"squiggles/resolution/{variant}/curves"]
    base = int(metrics["squiggles/resolution/base_resolution"])
    pts = pd.DataFrame(metrics[f"squiggles/resolution/{variant}/points"])
    colors = dict(zip(curves, sns.color_palette("deep", len(curves)), strict=True))
    fig, (ax_px, ax_lat) = plt.subplots(1, 2, figsize=(10.5, 4.2), layout="constrained")
    for f, c in curves.items():
        side = base * int(f)
        col = colors[f]
        ax_px.plot(c["pixel_eps"], c["pgd_sigma0"], "-o", color=col, ms=3,
                   label=f"{side}x{side}, sigma 0")  # fmt: skip
        ax_px.plot(c["pixel_eps"], c["pgd_noise"], "--s", color=col, ms=3,
                   label=f"{side}x{side}, noise-trained")  # fmt: skip
        ax_lat.plot(c["latent_eps"], c["latent"], "-o", color=col, ms=3, label=f"{side}x{side}")
        mine = pts[pts["factor"] == int(f)]
        if int(f) > 1 and len(mine):
            focus = metrics.get("squiggles/resolution/focus_eps")
            if focus is not None:
                ax_px.scatter([focus * int(f)], [mine["pixel_accuracy_noise_scaled"].mean()],
                              marker="*", s=140, color=col, zorder=5,
                              label=f"noise-trained at {focus:g} x {f}")  # fmt: skip
    for ax, title in ((ax_px, "(a) pixel-space PGD"), (ax_lat, "(b) latent-space attack")):
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("eps (L2)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    n = metrics.get(f"squiggles/resolution/{variant}/n_attacked")
    seeds = sorted(set(pts["seed"])) if len(pts) else []
    fig.suptitle(
        f"{variant}: higher resolution (Fig. 12): the first {n} test curves, mean over "
        f"seeds {seeds}",
        fontsize=10,
    )
    return fig


def fig3_figure(store: xr.Dataset, n: int = 3):
    """Fig. 3: L2 PGD at growing eps on the same curves, (a) in pixel space (all steps,
    no early stop, clipped to [0, 1] for display) and (b) in latent space (the latent
    attack's points decoded); one row per curve and space, the clean image first. Titles:
    eps and the model's label; latent points also show their recomputed true label, in
    red where the model is wrong. A frame's colour is the clean curve's true label."""
    n = min(n, store.sizes["sample"])
    blocks = (
        ("pixel", "(a) pixel space", store.pixel_eps.values, store.pixel_adv, store.pixel_pred),
        (
            "latent",
            "(b) latent space",
            store.latent_eps.values,
            store.latent_adv,
            store.latent_pred,
        ),
    )
    n_col = 1 + max(len(b[2]) for b in blocks)
    fig, axes = plt.subplots(2 * n, n_col, figsize=(1.25 * n_col, 1.45 * 2 * n + 0.6),
                             squeeze=False, layout="constrained")  # fmt: skip
    label = store.label.values
    for k in range(n):
        for b, (kind, name, eps, imgs, preds) in enumerate(blocks):
            row = axes[2 * k + b]
            clean_pred = int(store.clean_pred.values[k])
            _show(row[0], store.image.values[k], label=int(label[k]),
                  title=f"{name}\nclean: pred {clean_pred}, true {int(label[k])}")  # fmt: skip
            if clean_pred != int(label[k]):
                row[0].title.set_color("tab:red")
            for j in range(1, n_col):
                ax = row[j]
                if j - 1 >= len(eps):
                    ax.set_axis_off()
                    continue
                img = np.clip(imgs.values[j - 1, k], 0, 1)
                pred = int(preds.values[j - 1, k])
                truth = int(store.latent_label.values[j - 1, k]) if kind == "latent" else label[k]
                t = f"ε {eps[j - 1]:.3g}: pred {pred}"
                if kind == "latent":
                    t += f", true {truth}"
                _show(ax, img, label=int(label[k]), title=t)
                if pred != truth:
                    ax.title.set_color("tab:red")
    fig.suptitle(
        f"Fig. 3: {store.attrs.get('variant', '')} curves under L2 PGD at growing ε, pixel "
        "space (a) vs latent space (b); label 1 = self-intersecting, red: the model is wrong",
        fontsize=9,
    )
    return fig
