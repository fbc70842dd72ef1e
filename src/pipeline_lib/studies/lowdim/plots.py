"""Figures. Each function takes opened stores and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import seaborn as sns
import xarray as xr

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)
from pipeline_lib.stats import finite_mean
from pipeline_lib.viz import VARIANT_NAMES

LABEL_COLORS = {0: "tab:blue", 1: "tab:red"}
# the core names plus this study's label-coherent control
NAMES = {**VARIANT_NAMES, "random_clusters": "random labels per cluster (control)"}
HEIGHT_CMAP = plt.get_cmap("coolwarm").with_extremes(bad="0.55")


def _seeds(summary: xr.Dataset) -> str:
    n = summary.sizes["seed"]
    return f"{n} seed" + ("s" if n != 1 else "")


def _points(ax, run: xr.Dataset, labels=None, size=12, zorder=3):
    x = run.train_x.values
    lab = run.train_label.values if labels is None else labels
    for c in (0, 1):
        sel = lab == c
        ax.scatter(
            x[sel, 0],
            x[sel, 1],
            s=size,
            c=LABEL_COLORS[c],
            edgecolors="k",
            linewidths=0.3,
            zorder=zorder,
            label=f"class {c}",
        )


def _manifold_line(ax, data: xr.Dataset):
    o, d = data.origin.values, data.directions.values[0]
    ts = np.array([0.0, 1.0])
    pts = o[None] + ts[:, None] * d[None]
    ax.plot(pts[:, 0], pts[:, 1], color="tab:green", lw=1.2, alpha=0.7, label="manifold")


def _boundary_contour(ax, run, epoch, **kw):
    g = run.grid_logit.sel(epoch=epoch).values
    return ax.contour(run.grid_0.values, run.grid_1.values, g.T, levels=[0.0], **kw)


def _square(ax):
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def boundary_evolution_2d(pairs: list[tuple[xr.Dataset, xr.Dataset]]):
    """Fig. 5a: the zero level of the logit at each snapshot epoch (light -> dark)."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 5), squeeze=False)
    for ax, (data, run) in zip(axes[0], pairs, strict=True):
        epochs = run.epoch.values
        cmap = plt.get_cmap("Greys")
        for i, e in enumerate(epochs):
            col = cmap(0.25 + 0.75 * i / max(1, len(epochs) - 1))
            _boundary_contour(ax, run, e, colors=[col], linewidths=1.4)
            ax.plot([], [], color=col, label=f"epoch {e}")
        _manifold_line(ax, data)
        _points(ax, run)
        _square(ax)
        ax.set_title(f"{data.attrs['manifold']}: boundary over epochs (seed {run.attrs['seed']})")
        ax.legend(fontsize=7, loc="upper left", ncol=2, framealpha=0.8)
    fig.tight_layout()
    return fig


def height_map(data: xr.Dataset, run: xr.Dataset, epoch) -> np.ndarray:
    """Boundary height z(x, y) above each probe of a plane (NaN: no crossing)."""
    n = data.normal_basis.values[0]
    s = run.probe_normal_offset.sel(epoch=epoch).values
    z = data.probe_x.values[:, 2] + s * n[2]
    k = data.sizes["probe_axis"]
    return z.reshape(k, k)  # [i, j] = (u0_i, u1_j)


def _heat(ax, data, run, epoch, vmin=0.0, vmax=1.0, cmap=None):
    cmap = cmap or HEIGHT_CMAP
    axis = data.probe_axis.values
    h = height_map(data, run, epoch)
    im = ax.pcolormesh(axis, axis, h.T, cmap=cmap, vmin=vmin, vmax=vmax, shading="nearest")
    ax.contour(axis, axis, h.T, levels=[0.5], colors="k", linewidths=0.6)
    return im


def height_maps(data: xr.Dataset, run: xr.Dataset):
    """Fig. 5b / Fig. 1 right: topographic maps of the boundary height per epoch,
    and the final boundary as a 3D surface."""
    epochs = list(run.epoch.values)
    ncol = min(5, len(epochs))
    nmap = int(np.ceil(len(epochs) / ncol))
    fig = plt.figure(figsize=(3.3 * ncol, 3.2 * nmap + 5.5))
    gs = fig.add_gridspec(nmap + 1, ncol, height_ratios=[1] * nmap + [1.9])
    im = None
    for i, e in enumerate(epochs):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        im = _heat(ax, data, run, e)
        _points(ax, run, size=6)
        ax.set_title(f"epoch {e}", fontsize=9)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=fig.axes, shrink=0.6, label="boundary height z (manifold at z = 0.5)")
    ax3 = fig.add_subplot(gs[nmap, :], projection="3d")
    axis = data.probe_axis.values
    h = height_map(data, run, epochs[-1])
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    ax3.plot_surface(
        xx, yy, np.ma.masked_invalid(h), cmap=HEIGHT_CMAP, vmin=0, vmax=1, alpha=0.85, linewidth=0
    )
    x, lab = run.train_x.values, run.train_label.values
    ax3.scatter(x[:, 0], x[:, 1], x[:, 2], c=[LABEL_COLORS[int(c)] for c in lab], s=6)
    ax3.set_zlim(0, 1)
    ax3.set_title(f"final boundary (epoch {epochs[-1]}), 3D", fontsize=9)
    fig.suptitle(
        f"plane z = 0.5: boundary height per epoch (seed {run.attrs['seed']}); grey = "
        "no boundary above or below the probe inside the cube",
        fontsize=10,
    )
    return fig


def gradients(pairs: list[tuple[xr.Dataset, xr.Dataset]]):
    """Fig. 24 / App. E.1: normalised input gradients at the training points."""
    fig = plt.figure(figsize=(5.2 * len(pairs), 5))
    for i, (data, run) in enumerate(pairs):
        e = run.epoch.values[-1]
        g = run.train_gradient.sel(epoch=e).values
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        x = run.train_x.values
        ang = float(finite_mean(run.gradient_angle.sel(epoch=e).values))
        if data.sizes["feature"] == 2:
            ax = fig.add_subplot(1, len(pairs), i + 1)
            _boundary_contour(ax, run, e, colors="grey", linewidths=1.2)
            _manifold_line(ax, data)
            ax.quiver(
                x[:, 0],
                x[:, 1],
                g[:, 0],
                g[:, 1],
                angles="xy",
                scale_units="xy",
                scale=12,
                width=0.004,
                color="k",
            )
            _points(ax, run)
            _square(ax)
        else:
            ax = fig.add_subplot(1, len(pairs), i + 1, projection="3d")
            axis = data.probe_axis.values
            h = height_map(data, run, e)
            xx, yy = np.meshgrid(axis, axis, indexing="ij")
            ax.plot_surface(
                xx,
                yy,
                np.ma.masked_invalid(h),
                cmap=HEIGHT_CMAP,
                vmin=0,
                vmax=1,
                alpha=0.35,
                linewidth=0,
            )
            ax.quiver(
                x[:, 0],
                x[:, 1],
                x[:, 2],
                g[:, 0],
                g[:, 1],
                g[:, 2],
                length=0.12,
                color="k",
                linewidth=0.6,
            )
            ax.scatter(
                x[:, 0],
                x[:, 1],
                x[:, 2],
                c=[LABEL_COLORS[int(c)] for c in run.train_label.values],
                s=6,
            )
            ax.set_zlim(0, 1)
        ax.set_title(
            f"{data.attrs['manifold']}, epoch {e}: mean angle to manifold {ang:.1f}°", fontsize=9
        )
    fig.tight_layout()
    return fig


def compare_final(triples: list[tuple[xr.Dataset, xr.Dataset, xr.Dataset]], other_name: str):
    """Clean vs another variant (Fig. 3 for adversarial training; the random-label control)."""
    fig = plt.figure(figsize=(9, 4.3 * len(triples)))
    im = None
    for r, (data, clean, other) in enumerate(triples):
        for c, (run, name) in enumerate(((clean, "clean"), (other, other_name))):
            e = run.epoch.values[-1]
            depth = float(finite_mean(np.abs(run.train_normal_offset.sel(epoch=e).values)))
            acc = float(run.test_accuracy.sel(epoch=e))
            ax = fig.add_subplot(len(triples), 2, 2 * r + c + 1)
            if data.sizes["feature"] == 2:
                _boundary_contour(ax, run, e, colors="k", linewidths=1.4)
                _manifold_line(ax, data)
                _points(ax, run)
                _square(ax)
            else:
                im = _heat(ax, data, run, e)
                _points(ax, run, size=6)
                ax.set_aspect("equal")
            ax.set_title(
                f"{data.attrs['manifold']} — {name}\nmean dimple depth {depth:.3f}, "
                f"test acc. {acc:.2f}",
                fontsize=9,
            )
    if im is not None:
        fig.colorbar(im, ax=fig.axes, shrink=0.5, label="plane: boundary height z")
    return fig


def clinging_curves(summary: xr.Dataset):
    """Distance manifold->boundary, gradient angle and accuracy per epoch, mean ± sd over seeds."""
    df = summary[["boundary_distance", "boundary_present", "gradient_angle", "train_accuracy"]]
    df = df.to_dataframe()
    df = df.reset_index()
    df["variant"] = df["variant"].map(NAMES).fillna(df["variant"])
    mans = list(summary.manifold.values)
    rows = [
        ("boundary_distance", "mean distance\nmanifold → boundary"),
        ("boundary_present", "fraction of manifold\nwith boundary above/below"),
        ("gradient_angle", "gradient angle to manifold (°)"),
        ("train_accuracy", "train accuracy (labels used)"),
    ]
    hue_order = [NAMES[v] for v in NAMES if v in summary.variant.values]
    fig, axes = plt.subplots(
        len(rows), len(mans), figsize=(4.6 * len(mans), 12), squeeze=False, sharex=True
    )
    for j, m in enumerate(mans):
        sub = df[df.manifold == m]
        for i, (col, label) in enumerate(rows):
            ax = axes[i, j]
            sns.lineplot(
                data=sub,
                x="epoch",
                y=col,
                hue="variant",
                errorbar="sd",
                marker="o",
                hue_order=hue_order,
                ax=ax,
                legend=(i == 0 and j == 0),
            )
            if col == "gradient_angle":
                ax.axhline(
                    float(summary.random_direction_angle.sel(manifold=m)),
                    ls="--",
                    color="grey",
                    label="random direction",
                )
                ax.axhline(90, ls="-.", color="0.4", lw=1, label="perpendicular")
            if col == "boundary_distance" and "walls_boundary_distance" in summary:
                ax.axhline(
                    float(summary.walls_boundary_distance.sel(manifold=m)),
                    ls=":",
                    color="k",
                    label="walls baseline",
                )
                if j == 0:
                    ax.legend(fontsize=7)
            ax.set_xscale("symlog", linthresh=1)
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_ylabel(label if j == 0 else "")
            if i == 0:
                ax.set_title(m)
    fig.suptitle(
        f"Clinging and dimpling: mean ± sd over {_seeds(summary)} "
        "(dashed: isotropic random direction; dash-dot: perpendicular to the manifold; "
        "dotted black, top row: walls baseline)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def separation(summary: xr.Dataset):
    """Clinging vs walls: share of the manifold with the boundary within d along the
    normal (last snapshot, mean ± sd over seeds) and the signed normal-offset histogram."""
    last = summary.epoch.values[-1]
    mans = list(summary.manifold.values)
    variants = [v for v in NAMES if v in summary.variant.values]
    colors = dict(zip(variants, sns.color_palette(n_colors=len(variants)), strict=True))
    fig, axes = plt.subplots(2, len(mans), figsize=(4.6 * len(mans), 7.5), squeeze=False)
    d = summary.distance.values
    centres = summary.offset_bin.values
    width = float(np.diff(centres).mean()) if len(centres) > 1 else 1.0
    for j, m in enumerate(mans):
        ax, hx = axes[0, j], axes[1, j]
        for v in variants:
            sh = summary.share_within.sel(manifold=m, variant=v, epoch=last).values  # seed, d
            mu = finite_mean(sh, axis=0)
            sd = np.nanstd(sh, axis=0, ddof=1) if sh.shape[0] > 1 else np.zeros_like(mu)
            ax.errorbar(d, mu, yerr=sd, marker="o", capsize=3, color=colors[v], label=NAMES[v])
            h = finite_mean(
                summary.offset_histogram.sel(manifold=m, variant=v, epoch=last).values, axis=0
            )
            hx.step(centres, h, where="mid", color=colors[v], label=NAMES[v])
        if "walls_share_within" in summary:
            w = summary.sel(manifold=m)
            ax.plot(d, w.walls_share_within.values, "k:", marker="s", label="walls baseline")
            hx.bar(
                centres,
                w.walls_offset_histogram.values,
                width=width,
                color="0.6",
                alpha=0.5,
                label="walls baseline",
            )
        ax.set_xscale("log")
        ax.set_xticks(d, [f"{x:g}" for x in d])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("distance d along the normal")
        ax.set_ylabel("share of manifold with boundary within d" if j == 0 else "")
        ax.set_title(f"{m} (epoch {last})")
        hx.set_xlabel("signed normal offset manifold → boundary")
        hx.set_ylabel("share of probes" if j == 0 else "")
        hx.set_ylim(bottom=0)
    # one legend for every panel, below them (the panels' data fill their corners)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(
        "Does the boundary run along the manifold (dimpled) or cross it (walls)? "
        f"Last snapshot, {_seeds(summary)}; bottom: probes whose normal "
        "line meets no boundary are in no bin",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def ablation_sensitivity(summary: xr.Dataset):
    """App. C sensitivity: final train accuracy, probe distance and share within the
    middle distance per setting (lr, output weights, loss), one point per seed."""
    df = summary[["train_accuracy", "boundary_distance", "share_mid"]].to_dataframe()
    df = df.reset_index()
    mans = list(summary.manifold.values)
    cols = [
        ("train_accuracy", "final train accuracy"),
        ("boundary_distance", "final mean distance manifold → boundary"),
        ("share_mid", f"share within {float(summary.attrs['share_distance']):g} along normal"),
    ]
    n_set = summary.sizes["setting"]
    # one row of panels per manifold, tall enough for one readable line per setting
    fig, axes = plt.subplots(
        len(mans),
        len(cols),
        figsize=(14, len(mans) * max(2.8, 0.42 * n_set + 1.3) + 0.6),
        squeeze=False,
        sharey=True,
    )
    for i, m in enumerate(mans):
        sub = df[df.manifold == m]
        for j, (c, label) in enumerate(cols):
            ax = axes[i, j]
            sns.stripplot(
                data=sub,
                x=c,
                y="setting",
                hue="setting",
                order=list(summary.setting.values),
                ax=ax,
                legend=False,
                size=7,
                jitter=0.15,
            )
            ax.grid(axis="y", color="0.9", lw=0.8)
            if c == "train_accuracy":
                lo = np.nanmin(sub[c].to_numpy(), initial=0.4)
                ax.set_xlim(min(0.4, lo - 0.03), 1.02)
                ax.axvline(float(summary.attrs["fit"]), ls="--", color="k", lw=1)
            elif c == "share_mid":
                ax.set_xlim(-0.03, 1.03)
            else:
                ax.set_xlim(left=0)
            ax.set_xlabel(label)
            ax.set_ylabel(f"{m}: lr - output weights - loss" if j == 0 else "")
            ax.set_title(m if j == 1 else "", fontsize=10)
    fig.suptitle(
        "Does App. C's setting train the network? (dashed: the 'trains' threshold; "
        f"{_seeds(summary)})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    return fig
