"""Figures of the natural-image Dimpled-Manifold experiments (DMM Sec. 5, 6, 7; App. B, E,
F, H). Each function takes opened stores (see :mod:`pipeline_lib.dmm`) and returns a
matplotlib Figure.

Perturbations are shown "maximally amplified to [0, 1]" as in the paper:
``(d - d.min()) / (d.max() - d.min())`` per image, so mid-grey is not necessarily zero.
Distributions pool the samples of all seeds of a variant; NaN / inf values (failed
attacks, no boundary found) are dropped before plotting.
"""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)
from pipeline_lib.stats import finite_mean
from pipeline_lib.viz import VARIANT_NAMES

ATTACKS = ("regular", "on", "off")
ATTACK_NAMES = {"regular": "regular", "on": "on-manifold", "off": "off-manifold"}
PATH_COLORS = {"full": "k", "on": "tab:green", "off": "tab:red"}
PATH_NAMES = {"full": "x + d", "on": "x + Proj_M d", "off": "x + (d - Proj_M d)"}
RATIO_NAMES = {
    "ratio": "adversarial d on M",
    "ratio_random_subspace": "d on random k-subspace",
    "ratio_random_vector": "random vector on M",
}
AMPLIFIED = "perturbations amplified per image: (d - min) / (max - min)"


# ----------------------------------------------------------------------------- helpers


_OWN_NAMES = {"noise": "Gaussian-noise training"}


def _vname(v: str) -> str:
    return VARIANT_NAMES.get(v, _OWN_NAMES.get(v, v))


def _finite(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _as_list(stores) -> list[xr.Dataset]:
    return [stores] if isinstance(stores, xr.Dataset) else list(stores)


def _attr(stores: dict, name: str) -> float:
    """First finite value of a store attribute among all stores (NaN if none)."""
    for runs in stores.values():
        for s in _as_list(runs):
            v = s.attrs.get(name)
            if v is not None and np.isfinite(float(v)):
                return float(v)
    return float("nan")


def _long(stores: dict, name: str, by_attack: bool = False) -> pd.DataFrame:
    """Finite values of a per-sample variable, pooled over seeds: columns variant, seed,
    value (and attack)."""
    rows = []
    for v, runs in stores.items():
        for i, s in enumerate(_as_list(runs)):
            if by_attack:
                for a in s.attack.values:
                    vals = _finite(s[name].sel(attack=a).values)
                    rows.append(
                        pd.DataFrame({"variant": _vname(v), "seed": i, "attack": a, "value": vals})
                    )
            else:
                vals = _finite(s[name].values)
                rows.append(pd.DataFrame({"variant": _vname(v), "seed": i, "value": vals}))
    cols = ["variant", "seed", "attack", "value"] if by_attack else ["variant", "seed", "value"]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols]


def _no_data(ax, text: str = "no finite values") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _blank(ax, text: str | None = None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
    if text:
        _no_data(ax, text)


def _to_image(flat, shape) -> np.ndarray:
    c, h, w = (int(s) for s in shape)
    img = np.asarray(flat, dtype=np.float64).reshape(c, h, w)
    return img[0] if c == 1 else img.transpose(1, 2, 0)


def amplify(d) -> np.ndarray:
    """Map a perturbation to the full [0, 1] range (constant -> 0.5)."""
    d = np.asarray(d, dtype=np.float64)
    lo, hi = np.nanmin(d), np.nanmax(d)
    if not np.isfinite(hi - lo) or hi - lo <= 0:
        return np.full_like(d, 0.5)
    return (d - lo) / (hi - lo)


def _show(ax, flat, shape, title: str | None = None, amplified: bool = False) -> None:
    v = amplify(flat) if amplified else np.clip(np.asarray(flat, dtype=np.float64), 0.0, 1.0)
    img = _to_image(v, shape)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)


def _cname(c: int, class_names) -> str:
    if class_names is not None and 0 <= int(c) < len(class_names):
        return str(class_names[int(c)])
    return f"class {int(c)}"


def _dist(
    ax,
    df: pd.DataFrame,
    x: str,
    order: list,
    hue: str | None = None,
    hue_order: list | None = None,
    log: bool = False,
    palette=None,
) -> None:
    """Box plot (whiskers 1.5 IQR) with the individual values as dots."""
    if df.empty:
        _no_data(ax)
        ax.set_xticks(range(len(order)), order)
        return
    kw = dict(data=df, x=x, y="value", order=order, ax=ax, log_scale=log or None)
    if hue is not None:
        kw.update(hue=hue, hue_order=hue_order, palette=palette)
    sns.boxplot(**kw, showfliers=False, fill=False, width=0.7, legend=hue is not None)
    kw.pop("palette", None)
    sns.stripplot(
        **kw,
        dodge=hue is not None,
        size=2.5,
        alpha=0.5,
        jitter=0.2,
        legend=False,
        palette=palette if hue is not None else None,
        color=None if hue is not None else "0.3",
    )


def _empty_labels(order: list, df: pd.DataFrame, col: str = "variant") -> list[str]:
    present = set(df[col]) if not df.empty else set()
    return [o if o in present else f"{o}\n(no finite values)" for o in order]


def _success_rate(stores: dict, name: str, attack: str | None = None) -> float:
    vals = []
    for s in _as_list(stores):
        a = s[name] if attack is None else s[name].sel(attack=attack)
        vals.append(np.asarray(a.values, dtype=np.float64).ravel())
    allv = np.concatenate(vals) if vals else np.array([])
    return float(finite_mean(allv)) if allv.size else float("nan")


def _pct(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{100 * v:.0f}%"


# ----------------------------------------------------------------------------- figures


def autoencoder_figure(ae_store: xr.Dataset, tangent_store: xr.Dataset, n_show: int = 8):
    """The manifold model: test images, their reconstructions, the distribution of the
    per-image reconstruction error and the training curve (App. D)."""
    shape = tangent_store.attrs["image_shape"]
    n = min(int(n_show), tangent_store.sizes["sample"])
    ncol = max(n, 2)
    fig = plt.figure(figsize=(max(8.0, 1.1 * ncol), 6.6))
    gs = fig.add_gridspec(3, ncol, height_ratios=[1, 1, 2.4], hspace=0.4)
    img = tangent_store.image.values
    rec = tangent_store.reconstruction.values
    for i in range(n):
        ax = fig.add_subplot(gs[0, i])
        _show(ax, img[i], shape)
        if i == 0:
            ax.set_ylabel("x", fontsize=9)
        ax = fig.add_subplot(gs[1, i])
        err = float(np.linalg.norm(img[i] - rec[i]))
        _show(ax, rec[i], shape, title=f"|x - x'| = {err:.2f}")
        if i == 0:
            ax.set_ylabel("x' = dec(enc(x))", fontsize=8)
    if n == 0:
        _blank(fig.add_subplot(gs[0:2, :]), "no test images in the tangent store")
    bottom = gs[2, :].subgridspec(1, 2, wspace=0.3)
    ax = fig.add_subplot(bottom[0])
    l2 = _finite(ae_store.test_l2.values)
    if l2.size:
        sns.histplot(l2, bins=min(30, max(5, l2.size // 3)), ax=ax, color="tab:blue")
        m = float(l2.mean())
        ax.axvline(m, color="k", ls="--", label=f"mean {m:.3f}")
        ax.axvline(float(np.median(l2)), color="tab:orange", ls=":", label="median")
        ax.legend(fontsize=8)
    else:
        _no_data(ax)
    ax.set_xlabel("test reconstruction error |x - x'|_2 (input units)")
    ax.set_ylabel("test images")
    ax.set_title(f"reconstruction error, {l2.size} test images", fontsize=9)
    ax = fig.add_subplot(bottom[1])
    loss = np.asarray(ae_store.train_loss.values, dtype=np.float64)
    ep = np.asarray(ae_store.epoch.values)
    ok = np.isfinite(loss)
    if ok.any():
        ax.plot(ep[ok], loss[ok], marker="o", ms=3, label="train MSE")
        if (loss[ok] > 0).all() and loss[ok].max() > 10 * loss[ok].min():
            ax.set_yscale("log")
        mse = _finite(ae_store.test_mse.values)
        if mse.size:
            ax.axhline(float(mse.mean()), color="tab:red", ls="--", label="final test MSE (mean)")
        ax.legend(fontsize=8)
    else:
        _no_data(ax)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error per pixel")
    ax.set_title("autoencoder training", fontsize=9)
    fig.suptitle(
        f"Manifold model: autoencoder with k = {ae_store.attrs.get('k')} of "
        f"n = {ae_store.attrs.get('n_features')} dimensions (top: test images x, "
        "middle: reconstructions x')",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.07, right=0.98, top=0.9, bottom=0.08, wspace=0.35)
    return fig


def _gradient_share_panel(ax, stores, variants, **tick_kw) -> None:
    """Distributions of |Proj_M g| / |g| per variant with the random reference sqrt(k/n)."""
    df = _long(stores, "grad_on_share")
    _dist(ax, df, "variant", variants)
    k, n = _attr(stores, "k"), _attr(stores, "n_features")
    if np.isfinite(k) and np.isfinite(n) and n > 0:
        ax.axhline(
            math.sqrt(k / n),
            color="k",
            ls="--",
            lw=1,
            label=f"random direction: sqrt(k/n) = {math.sqrt(k / n):.2f}",
        )
        ax.legend(fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(range(len(variants)), _empty_labels(variants, df), **tick_kw)
    ax.set_xlabel("")


def ratio_figure(stores: dict[str, list[xr.Dataset]]):
    """Table 1 / App. E.2 / Sec. 5.1 as distributions: the norm ratio R = |d| / |Proj d|,
    the on-manifold relative effect and the on-manifold share of the input gradient."""
    variants = [_vname(v) for v in stores]
    n_seeds = max((len(_as_list(r)) for r in stores.values()), default=0)
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(8.0 + 2.6 * len(variants), 5.4),
        gridspec_kw={"width_ratios": [2.2, 1, 1]},
    )
    # (a) Table 1 ratios
    ax = axes[0]
    parts = []
    for name, label in RATIO_NAMES.items():
        df = _long(stores, name)
        df["quantity"] = label
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    df = df[df.value > 0]
    _dist(
        ax,
        df,
        "variant",
        variants,
        hue="quantity",
        hue_order=list(RATIO_NAMES.values()),
        log=True,
        palette=["tab:blue", "tab:orange", "tab:green"],
    )
    ref = _attr(stores, "sqrt_n_over_k")
    if np.isfinite(ref):
        ax.axhline(ref, color="k", ls="--", lw=1, label=f"sqrt(n/k) = {ref:.2f}")
    rms = _attr(stores, "rms_random_ratio_exact")
    if np.isfinite(rms):
        ax.axhline(rms, color="0.5", ls="-.", lw=1, label=f"exact RMS, random d: {rms:.2f}")
    ax.axhline(math.sqrt(2), color="tab:purple", ls=":", lw=1, label="sqrt(2) (45°)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.set_ylabel("R = |v| / |Proj v| (log scale)")
    ax.set_xlabel("")
    ax.set_xticks(range(len(variants)), _empty_labels(variants, df))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=3)
    ax.set_title("(a) Table 1: norm ratio (successful attacks)", fontsize=9)
    # (b) relative effect
    ax = axes[1]
    df = _long(stores, "on_effect")
    _dist(ax, df, "variant", variants)
    ax.axhline(0, color="k", ls="--", lw=1, label="0: no on-manifold effect")
    ax.axhline(1, color="tab:red", ls=":", lw=1, label="1: all of the effect")
    ax.set_xticks(range(len(variants)), _empty_labels(variants, df), rotation=20, ha="right")
    ax.set_xlabel("")
    ax.set_ylabel(r"relative effect $E_{\mathrm{Proj}_M d} \,/\, E_d$")
    ax.legend(fontsize=7)
    ax.set_title("(b) on-manifold relative effect", fontsize=9)
    # (c) gradient share
    ax = axes[2]
    _gradient_share_panel(ax, stores, variants, rotation=20, ha="right")
    ax.set_ylabel("|Proj_M g| / |g|")
    ax.set_title("(c) on-manifold share of the input gradient", fontsize=9)
    fig.suptitle(
        f"Adversarial perturbations vs the manifold: per-image values pooled over {n_seeds} "
        "seed(s); boxes: quartiles, whiskers 1.5 IQR, dots: images",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def projection_gallery(
    store: xr.Dataset, tangent_store: xr.Dataset, n_show: int = 4, class_names=None
):
    """Fig. 7 / 9-17: x, x + d, x + Proj_M d, x + (d - Proj_M d) with the amplified
    perturbations, and the source / adversarial logits along the three paths."""
    shape = store.attrs["image_shape"]
    idx = np.flatnonzero(np.asarray(store.pgd_success.values, dtype=bool))[: int(n_show)]
    if idx.size == 0:
        fig, ax = plt.subplots(figsize=(6, 2))
        _blank(ax, "no successful attack")
        ax.set_title("Fig. 7: adversarial perturbation projected on / off the manifold", fontsize=9)
        return fig
    ids = store.sample.values[idx]
    basis = tangent_store.basis.sel(sample=ids).values
    x = store.image.values[idx].astype(np.float64)
    d = store.pgd_delta.values[idx].astype(np.float64)
    d_on = np.einsum("nk,nkf->nf", np.einsum("nkf,nf->nk", basis, d), basis)
    d_off = d - d_on
    cols = [
        ("x", x, False),
        ("x + d", x + d, False),
        ("d", d, True),
        ("x + Proj_M d", x + d_on, False),
        ("Proj_M d", d_on, True),
        ("x + (d - Proj_M d)", x + d_off, False),
        ("d - Proj_M d", d_off, True),
    ]
    t = store.t.values
    fig = plt.figure(figsize=(14, 1.9 * len(idx) + 1.2))
    gs = fig.add_gridspec(
        len(idx), len(cols) + 2, width_ratios=[1] * len(cols) + [0.25, 2.6], wspace=0.2
    )
    for r, i in enumerate(idx):
        src, adv = int(store.label.values[i]), int(store.adv_class.values[i])
        for c, (name, arr, amp) in enumerate(cols):
            ax = fig.add_subplot(gs[r, c])
            title = name
            if amp:
                title = f"{name}\n|.| = {np.linalg.norm(arr[r]):.2f}"
            _show(ax, arr[r], shape, title=title, amplified=amp)
            if c == 0:
                ax.set_ylabel(
                    f"{_cname(src, class_names)}\n→ {_cname(adv, class_names)}", fontsize=8
                )
        ax = fig.add_subplot(gs[r, len(cols) + 1])
        pl = store.path_logits.isel(sample=i)
        for p in pl.path.values:
            z = pl.sel(path=p).values
            col = PATH_COLORS.get(str(p), None)
            ax.plot(t, z[:, src], color=col, lw=1.2, label=f"{PATH_NAMES.get(str(p), p)}")
            ax.plot(t, z[:, adv], color=col, lw=1.2, ls="--")
        ax.set_ylabel("logit", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title("solid: source class, dashed: adversarial class", fontsize=7)
        if r == 0:
            ax.legend(fontsize=6, loc="best")
        if r == len(idx) - 1:
            ax.set_xlabel("t along x → x1 = (1 - t) x + t x1", fontsize=8)
    fig.suptitle(
        f"Fig. 7: PGD perturbation d projected on (Proj_M d) and off the manifold "
        f"(k = {store.attrs.get('k')}); {AMPLIFIED}; images clipped to [0, 1]",
        fontsize=10,
    )
    fig.subplots_adjust(
        left=0.06, right=0.98, top=1 - 0.75 / fig.get_figheight(), bottom=0.08, hspace=0.55
    )
    return fig


def _distance_panel(ax, stores: dict, by: str) -> None:
    """c_distance distributions; ``by`` = 'attack' (x = attack, hue = variant) or
    'variant' (x = variant, hue = attack). Success rates go into the tick labels."""
    df = _long(stores, "c_distance", by_attack=True)
    variants = [_vname(v) for v in stores]
    rates = {
        (_vname(v), a): _success_rate(runs, "c_success", a)
        for v, runs in stores.items()
        for a in ATTACKS
    }
    df["attack"] = df["attack"].map(ATTACK_NAMES).fillna(df["attack"])
    attacks = [ATTACK_NAMES[a] for a in ATTACKS]
    if by == "attack":
        order, hue_order, palette = attacks, variants, "Set2"
        labels = [
            a + "\n" + "\n".join(f"{key}: {_pct(rates[(_vname(key), k)])}" for key in stores)
            for a, k in zip(attacks, ATTACKS, strict=True)
        ]
    else:
        order, hue_order, palette = variants, attacks, ["0.3", "tab:green", "tab:red"]
        labels = [
            v + "\n" + ", ".join(f"{a}: {_pct(rates[(v, a)])}" for a in ATTACKS) for v in variants
        ]
    _dist(
        ax,
        df,
        by,
        order,
        hue="variant" if by == "attack" else "attack",
        hue_order=hue_order,
        palette=palette,
    )
    ax.set_xticks(range(len(order)), labels, fontsize=7)
    ax.set_xlabel("success rate per attack below each group")
    ax.set_ylabel("L2 distance of the adversarial example (input units)")
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", fontsize=7, title=None, framealpha=0.85)


def onoff_figure(
    stores: dict[str, list[xr.Dataset]],
    gallery_store: xr.Dataset,
    n_show: int = 4,
    class_names=None,
):
    """Table 2 / Fig. 8, 18-23: distances of regular, on- and off-manifold PGD examples,
    and a gallery of the three adversarial examples with their perturbations."""
    shape = gallery_store.attrs["image_shape"]
    succ = np.asarray(gallery_store.c_success.values, dtype=bool)
    order = np.argsort(-succ.sum(1), kind="stable")
    idx = order[succ[order].any(1)][: int(n_show)]
    nrow = max(len(idx), 1)
    fig = plt.figure(figsize=(11.5 + 1.2 * len(stores), max(5.5, 1.6 * nrow + 1.4)))
    outer = fig.add_gridspec(1, 2, width_ratios=[0.8 + 0.3 * len(stores), 2.6], wspace=0.15)
    ax = fig.add_subplot(outer[0])
    _distance_panel(ax, stores, "attack")
    ax.set_title("Table 2: distance per attack (dots: images, all seeds)", fontsize=9)
    cols = 7
    right = outer[1].subgridspec(nrow, cols, wspace=0.08, hspace=0.45)
    if idx.size == 0:
        _blank(fig.add_subplot(right[:, :]), "no successful attack")
    atk = list(gallery_store.attack.values)
    for r, i in enumerate(idx):
        x = gallery_store.image.values[i].astype(np.float64)
        a0 = fig.add_subplot(right[r, 0])
        _show(a0, x, shape, title="x")
        a0.set_ylabel(_cname(gallery_store.label.values[i], class_names), fontsize=8)
        for j, a in enumerate(ATTACKS):
            d = gallery_store.c_delta.values[i, atk.index(a)].astype(np.float64)
            ok = bool(succ[i, atk.index(a)])
            dist = float(gallery_store.c_distance.values[i, atk.index(a)])
            status = f"|δ| = {dist:.2f}" if ok else "failed"
            _show(
                fig.add_subplot(right[r, 1 + j]), x + d, shape, title=f"{ATTACK_NAMES[a]}\n{status}"
            )
            _show(
                fig.add_subplot(right[r, 4 + j]),
                d,
                shape,
                title=f"δ {ATTACK_NAMES[a]}",
                amplified=True,
            )
    fig.suptitle(
        "Adversarial examples off and on the manifold (App. F): regular / on- / off-manifold "
        f"L2 PGD; gallery: x, x + δ, δ ({AMPLIFIED})",
        fontsize=10,
    )
    fig.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.2)
    return fig


def _curves(runs_by_variant: dict, fn) -> pd.DataFrame:
    rows = []
    for v, runs in runs_by_variant.items():
        for i, s in enumerate(_as_list(runs)):
            ep, y = fn(s)
            rows.append(pd.DataFrame({"variant": _vname(v), "seed": i, "epoch": ep, "value": y}))
    if not rows:
        return pd.DataFrame(columns=["variant", "seed", "epoch", "value"])
    df = pd.concat(rows, ignore_index=True)
    return df[np.isfinite(df.value.astype(np.float64))]


def _line(ax, df: pd.DataFrame, order: list[str], have: set[str] | None = None) -> None:
    """One mean ± sd line per variant of ``order`` (colours shared across panels); a
    variant outside ``have`` (no stores: not measured) is listed as not tracked."""
    if df.empty:
        _no_data(ax)
        return
    present = [v for v in order if v in set(df.variant)]
    for v, col in zip(order, sns.color_palette(n_colors=len(order)), strict=True):
        if have is not None and v not in have:
            ax.plot([], [], color=col, ls=":", label=f"{v} (not tracked here)")
            continue
        if v not in present:
            ax.plot([], [], color=col, label=f"{v} (no finite values)")
            continue
        g = df[df.variant == v].groupby("epoch")["value"]
        m = g.mean()
        sd = g.std(ddof=0).reindex(m.index).fillna(0.0)
        ns = df[df.variant == v].seed.nunique()
        ax.plot(m.index, m.values, marker="o", ms=3, color=col, label=f"{v} ({ns} seed(s))")
        ax.fill_between(m.index, m - sd, m + sd, color=col, alpha=0.2, lw=0)
    ax.set_xscale("symlog", linthresh=1)
    epochs = np.unique(df.epoch)
    if len(epochs) <= 12:
        ax.set_xticks(epochs)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def clinging_figure(distances: dict[str, list[xr.Dataset]], trainings: dict[str, list[xr.Dataset]]):
    """Fig. 6: mean distance of test images to the decision boundary during training,
    the share of images with a boundary found, and the test accuracy (mean ± sd over seeds).
    ``distances`` may hold fewer variants than ``trainings`` (``dmm.distance_variants``):
    the others are listed as not tracked in the distance panels."""
    order = [_vname(v) for v in dict.fromkeys([*distances, *trainings])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))

    def mean_dist(s):
        return s.epoch.values, finite_mean(s.distance.values, axis=1)

    def found(s):
        return s.epoch.values, np.isfinite(s.distance.values).mean(1)

    def acc(s):
        return s.epoch.values, np.asarray(s.test_accuracy.values, dtype=np.float64)

    panels = [
        (
            distances,
            mean_dist,
            "mean L2 distance to the boundary (input units)",
            "(a) Fig. 6: distance test image → boundary",
        ),
        (
            distances,
            found,
            "share of images with a boundary within eps_max",
            "(b) boundary found (else distance = inf, dropped)",
        ),
        (trainings, acc, "test accuracy", "(c) test accuracy"),
    ]
    for ax, (src, fn, ylabel, title) in zip(axes, panels, strict=True):
        have = {_vname(v) for v, runs in src.items() if _as_list(runs)}
        _line(ax, _curves(src, fn), order, have)
        ax.set_xlabel("epoch (0 = initialisation; symlog)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    axes[1].set_ylim(-0.02, 1.02)
    axes[2].set_ylim(-0.02, 1.02)
    fig.suptitle(
        "DMM Fig. 6: distance from test images to the decision boundary during training "
        "(paper: a fast early drop, then a plateau)\nmean ± sd over seeds",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def adv_training_figure(stores: dict[str, list[xr.Dataset]]):
    """Sec. 5.1: clean vs adversarially trained classifier: constrained attack distances
    and the on-manifold share of the input gradient."""
    keep = {v: stores[v] for v in ("clean", "adversarial", "noise") if v in stores}
    stores = keep or dict(stores)
    variants = [_vname(v) for v in stores]
    fig, axes = plt.subplots(
        1, 2, figsize=(5.0 + 3.2 * len(variants), 5.2), gridspec_kw={"width_ratios": [1.8, 1]}
    )
    _distance_panel(axes[0], stores, "variant")
    med = []
    for v, runs in stores.items():
        off = _finite(
            np.concatenate(
                [np.ravel(s.c_distance.sel(attack="off").values) for s in _as_list(runs)]
                or [np.array([])]
            )
        )
        med.append(f"{_vname(v)}: {np.median(off):.2f}" if off.size else f"{_vname(v)}: n/a")
    axes[0].set_title(
        "(a) constrained-attack distance; median off-manifold: " + ", ".join(med), fontsize=8
    )
    ax = axes[1]
    _gradient_share_panel(ax, stores, variants, fontsize=8)
    ax.set_ylabel("|Proj_M g| / |g| (margin-loss input gradient)")
    ax.set_title("(b) on-manifold share of the input gradient", fontsize=9)
    fig.suptitle(
        "Sec. 5.1 / App. A, adversarial and Gaussian-noise training: predicted deeper dimples "
        "(larger off-manifold distance),\na little-changed on-manifold distance and a larger "
        "on-manifold gradient share than the clean network",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


MISLABELED_METRICS = {
    "n1_test_accuracy": "N1 (clean training)",
    "n2_test_accuracy": "N2 (trained on mislabeled adv. examples)",
    "control_test_accuracy": "control (clean images, same labels)",
}


def mislabeled_figure(stores: dict[str, list[xr.Dataset]]):
    """Sec. 5.2: clean test accuracy of N1, of N2 trained only on N1's targeted adversarial
    examples labelled with their (wrong) targets, and of the control."""
    schemes = list(stores)
    rows = []
    for sch, runs in stores.items():
        for i, s in enumerate(_as_list(runs)):
            for m, label in MISLABELED_METRICS.items():
                rows.append({"scheme": sch, "seed": i, "metric": label, "value": float(s[m])})
    df = pd.DataFrame(rows, columns=["scheme", "seed", "metric", "value"])
    df = df[np.isfinite(df.value.astype(np.float64))] if not df.empty else df
    fig, ax = plt.subplots(figsize=(5.0 + 2.2 * max(1, len(schemes)), 5.0))
    hue_order = list(MISLABELED_METRICS.values())
    palette = ["tab:blue", "tab:orange", "0.6"]
    if df.empty:
        _no_data(ax)
    else:
        sns.barplot(
            data=df,
            x="scheme",
            y="value",
            hue="metric",
            order=schemes,
            hue_order=hue_order,
            palette=palette,
            errorbar="sd",
            capsize=0.1,
            alpha=0.8,
            ax=ax,
        )
        sns.stripplot(
            data=df,
            x="scheme",
            y="value",
            hue="metric",
            order=schemes,
            hue_order=hue_order,
            palette=["k"] * 3,
            dodge=True,
            size=4,
            legend=False,
            ax=ax,
        )
    for j, runs in enumerate(map(_as_list, stores.values())):
        chance = finite_mean([float(s.chance) for s in runs])
        if np.isfinite(chance):
            ax.hlines(
                chance,
                j - 0.45,
                j + 0.45,
                colors="k",
                linestyles="--",
                lw=1.2,
                label="chance" if j == 0 else None,
            )
        tr = finite_mean([float(s.n1_target_rate) for s in runs])
        nrm = finite_mean([float(s.perturbation_norm) for s in runs])
        ax.text(
            j,
            1.04,
            f"N1 → target: {_pct(tr)}\nmean |d| = {nrm:.2f}",
            ha="center",
            va="bottom",
            fontsize=7,
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xticks(
        range(len(schemes)), [f"{s}\n({len(_as_list(stores[s]))} seed(s))" for s in schemes]
    )
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("target scheme (det: y+1 mod C, rand: random other class, two_class)")
    ax.set_ylabel("accuracy on the clean test set (true labels)")
    h, lab = ax.get_legend_handles_labels()
    if h:
        ax.legend(h, lab, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(
        "Sec. 5.2: learning from mislabeled adversarial examples\n(bars: mean ± sd over seeds, "
        "dots: seeds)",
        fontsize=10,
        pad=34,
    )
    fig.tight_layout()
    return fig


def linf_l2_figure(store: xr.Dataset, n_show: int = 4):
    """App. H: where L2 and L-inf perturbations put their mass (object vs background)."""
    shape = store.attrs["image_shape"]
    both = np.asarray(store.pgd_success.values, dtype=bool) & np.asarray(
        store.linf_success.values, dtype=bool
    )
    idx = np.flatnonzero(both)[: int(n_show)]
    nrow = max(len(idx), 1)
    fig = plt.figure(figsize=(10.5, max(4.8, 1.5 * nrow + 1.3)))
    gs = fig.add_gridspec(nrow, 5, width_ratios=[1, 1, 1, 0.35, 3.2], wspace=0.12, hspace=0.45)
    if idx.size == 0:
        _blank(fig.add_subplot(gs[:, 0:3]), "no successful attack\n(L2 and L-inf)")
    for r, i in enumerate(idx):
        x = store.image.values[i]
        _show(fig.add_subplot(gs[r, 0]), x, shape, title="x")
        d2 = store.pgd_delta.values[i]
        _show(
            fig.add_subplot(gs[r, 1]),
            d2,
            shape,
            amplified=True,
            title=f"L2 d, |d|_2 = {float(store.pgd_norm.values[i]):.2f}",
        )
        di = store.linf_delta.values[i]
        _show(
            fig.add_subplot(gs[r, 2]),
            di,
            shape,
            amplified=True,
            title=f"L-inf d, |d|_inf = {float(store.linf_norm.values[i]):.3f}",
        )
    ax = fig.add_subplot(gs[:, 4])
    parts = []
    for name, label in (("l2_object_share", "L2 PGD"), ("linf_object_share", "L-inf PGD")):
        vals = _finite(store[name].values)
        parts.append(pd.DataFrame({"attack": label, "value": vals}))
    df = pd.concat(parts, ignore_index=True)
    order = ["L2 PGD", "L-inf PGD"]
    _dist(ax, df, "attack", order)
    ref = float(finite_mean(store.object_pixel_share.values))
    if np.isfinite(ref):
        ax.axhline(
            ref, color="k", ls="--", lw=1, label=f"share of object pixels (uniform d): {ref:.2f}"
        )
        ax.legend(fontsize=7, loc="lower right")
    counts = {lab: int((df.attack == lab).sum()) for lab in order}
    ax.set_xticks(range(2), [f"{o}\n({counts[o]} successful)" for o in order], fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("")
    ax.set_ylabel("share of |d|^2 on object pixels")
    ax.set_title("perturbation mass on the object", fontsize=9)
    fig.suptitle(f"App. H: L2 vs L-inf PGD perturbations ({AMPLIFIED})", fontsize=10)
    fig.subplots_adjust(left=0.04, right=0.98, top=1 - 0.8 / fig.get_figheight(), bottom=0.12)
    return fig


# ----------------------------------------------------------------------------- controls


def _pooled_var(runs, name: str, attack: str | None = None) -> np.ndarray:
    parts = [
        np.ravel((s[name] if attack is None else s[name].sel(attack=attack)).values)
        for s in _as_list(runs)
    ]
    return np.concatenate(parts).astype(np.float64) if parts else np.array([])


def _frame(columns: dict[str, np.ndarray], group: str) -> pd.DataFrame:
    """Long frame (group, value) of the finite values of each named column."""
    parts = [pd.DataFrame({group: k, "value": _finite(v)}) for k, v in columns.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[group, "value"])


def controls_figure(attacks: dict[str, list], controls: dict[str, list]):
    """Issue 19's controls beside their measurements, per attacked classifier variant:
    (a) on/off distance ratio of constrained PGD on M vs a random k-subspace Q; (b) the
    measured on/off ratio vs the locally linear prediction sqrt(1-s^2)/s; (c) R(d, M) and
    R(d, Q) of the Table 1 attack from a zero and a random start; (d) object shares of
    the L2 and L-inf perturbations vs a uniform-magnitude perturbation after clipping."""
    variants = list(controls)
    names = [_vname(v) for v in variants]
    fig, axes = plt.subplots(2, 2, figsize=(13.0, 10.0))
    ax = axes[0, 0]
    rows = []
    for v in variants:
        for lab, arr in (
            ("manifold M", _pooled_var(controls[v], "m_on_over_off")),
            ("random subspace Q", _pooled_var(controls[v], "q_on_over_off")),
        ):
            rows.append(
                pd.DataFrame({"variant": _vname(v), "subspace": lab, "value": _finite(arr)})
            )
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    order = ["manifold M", "random subspace Q"]
    _dist(ax, df, "variant", names, hue="subspace", hue_order=order, log=True, palette="Set1")
    ax.axhline(1, color="k", ls=":", lw=1)
    ax.set_xlabel("")
    ax.set_ylabel("on-subspace / off-subspace PGD distance (per image)")
    ax.set_title("(a) Table 2 ratio: manifold vs random subspace of the same k", fontsize=9)

    ax = axes[0, 1]
    colors = {"manifold M": "tab:red", "random subspace Q": "tab:blue"}
    lo, hi = np.inf, -np.inf
    for lab, (meas, pred) in {
        "manifold M": ("m_on_over_off", "m_linear_on_over_off"),
        "random subspace Q": ("q_on_over_off", "q_linear_on_over_off"),
    }.items():
        for j, v in enumerate(variants):
            a, b = _pooled_var(controls[v], pred), _pooled_var(controls[v], meas)
            ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
            if ok.any():
                lo, hi = min(lo, a[ok].min(), b[ok].min()), max(hi, a[ok].max(), b[ok].max())
            ax.scatter(
                a[ok],
                b[ok],
                s=8,
                alpha=0.5,
                color=colors[lab],
                marker="os^"[j % 3],
                label=f"{lab}, {_vname(v)} ({int(ok.sum())})",
            )
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="measured = linear prediction")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    else:
        _no_data(ax)
    ax.set_xlabel("locally linear prediction sqrt(1 - s^2) / s (s: gradient's on-subspace share)")
    ax.set_ylabel("measured on/off PGD distance ratio")
    ax.set_title(
        "(b) does the constrained attack add anything beyond the gradient share?", fontsize=9
    )

    ax = axes[1, 0]
    rows = []
    for v in variants:
        for start, (rm, rq), ok in (
            ("zero start", ("ratio", "ratio_random_subspace"), "pgd_success"),
            ("random start", ("rs_ratio", "rs_ratio_random_subspace"), "rs_success"),
        ):
            src = attacks[v] if start == "zero start" else controls[v]
            rate = _success_rate(src, ok)
            for sub, name in (("on M", rm), ("on random Q", rq)):
                rows.append(
                    pd.DataFrame(
                        {
                            "group": f"{v}\n{start}\n({_pct(rate)} success)",
                            "ratio of": sub,
                            "value": _finite(_pooled_var(src, name)),
                        }
                    )
                )
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    groups = list(dict.fromkeys(df["group"])) if not df.empty else []
    _dist(
        ax,
        df,
        "group",
        groups,
        hue="ratio of",
        hue_order=["on M", "on random Q"],
        log=True,
        palette="Set2",
    )
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("")
    ax.set_ylabel("R(d, .) = |d| / |Proj d| (successful attacks)")
    ax.set_title("(c) Table 1 greedy L2 PGD from a zero and a random start", fontsize=9)

    ax = axes[1, 1]
    v0 = variants[0] if variants else None
    if v0 is None:
        _no_data(ax)
    else:
        cols = {
            "L2 PGD": _pooled_var(attacks[v0], "l2_object_share"),
            "uniform, L2 size,\nclipped": _pooled_var(controls[v0], "l2_uniform_object_share"),
            "L-inf PGD": _pooled_var(attacks[v0], "linf_object_share"),
            "uniform, L-inf size,\nclipped": _pooled_var(controls[v0], "linf_uniform_object_share"),
        }
        df = _frame(cols, "perturbation")
        _dist(ax, df, "perturbation", list(cols))
        ref = float(finite_mean(_pooled_var(attacks[v0], "object_pixel_share")))
        if np.isfinite(ref):
            ax.axhline(
                ref,
                color="k",
                ls="--",
                lw=1,
                label=f"share of object pixels (unclipped uniform d): {ref:.2f}",
            )
            ax.legend(fontsize=7, loc="lower right")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("")
    ax.set_ylabel("share of |d|^2 on object pixels")
    ax.set_title(
        f"(d) App. H: measured vs clipped-uniform control ({_vname(v0 or '')})", fontsize=9
    )
    fig.suptitle(
        "Controls of the natural-image measurements (issue 19; pooled over seeds)", fontsize=11
    )
    fig.tight_layout()
    return fig


SIMILARITY = {
    "agreement_clean": "agreement on\nclean test points",
    "agreement_adv": "agreement on N1's\nadversarial test points",
    "grad_cosine": "cosine of input\ngradients",
}


def similarity_figure(stores: dict[str, list[xr.Dataset]]):
    """Sec. 5.2: how similar N2's decision boundary is to N1's, next to the same measures
    for N1 and an independently trained clean network (the baseline pair)."""
    rows = []
    for sch, runs in stores.items():
        for i, s in enumerate(_as_list(runs)):
            for m, label in SIMILARITY.items():
                for who, pair in (("n2", "N1 vs N2"), ("baseline", "N1 vs independent clean")):
                    rows.append(
                        {
                            "scheme": sch,
                            "measure": label,
                            "pair": pair,
                            "seed": i,
                            "value": float(s[f"{who}_{m}"]),
                        }
                    )
    df = pd.DataFrame(rows, columns=["scheme", "measure", "pair", "seed", "value"])
    df = df[np.isfinite(df.value.astype(np.float64))] if not df.empty else df
    schemes = list(stores)
    fig, axes = plt.subplots(
        1,
        max(1, len(schemes)),
        figsize=(4.6 * max(1, len(schemes)), 4.8),
        sharey=True,
        squeeze=False,
    )
    pairs = ["N1 vs N2", "N1 vs independent clean"]
    for ax, sch in zip(axes[0], schemes or [""], strict=False):
        sub = df[df.scheme == sch]
        if sub.empty:
            _no_data(ax)
            continue
        kw = dict(
            data=sub,
            x="measure",
            y="value",
            hue="pair",
            order=list(SIMILARITY.values()),
            hue_order=pairs,
            ax=ax,
        )
        sns.barplot(**kw, palette=["tab:orange", "0.6"], errorbar="sd", capsize=0.1, alpha=0.8)
        sns.stripplot(**kw, palette=["k", "k"], dodge=True, size=4, legend=False)
        n = len(_as_list(stores[sch]))
        ax.set_title(f"{sch} ({n} seed(s))", fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel("similarity to N1 (bars: mean ± sd over seeds)")
    axes[0, 0].set_ylim(min(0.0, float(df.value.min()) - 0.05) if not df.empty else 0, 1.05)
    fig.suptitle(
        "Sec. 5.2: is N2's decision boundary similar to N1's? (baseline: N1 vs an "
        "independently trained clean network)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
