"""Figures of the boundary-tilting experiments (Tanay & Griffin), numbered as in the
article "Adversarial examples, explained" (references: ``tilting_article``): Fig. 3/4
toy, Fig. 5 tilting plane, Fig. 6 tilting angle vs regularisation.

Each function takes opened stores of :func:`.experiment.sweep` and
:func:`.experiment.toy_2d_vs_highdim` and returns a matplotlib
Figure. The sweep is always drawn in increasing ``lam`` whatever the store's order.

Tilting-plane coordinates are ``u = (x - m) . z_hat`` (along the centroid difference, class
-1 to class +1) and ``v = (x - m) . n_hat`` (the part of ``w`` orthogonal to ``z_hat``),
with ``m`` the midpoint of the two class centroids; both in input units. Each classifier
has its own plane (``n_hat`` changes with ``w``), so ``v`` is not comparable between
panels. Since ``w`` lies in its tilting plane, the distance of a projected point to the
drawn boundary line is its true L2 distance to the boundary in input space.

Perturbations are shown "maximally amplified to [0, 1]" as in the DMM figures,
``(d - d.min()) / (d.max() - d.min())`` per image (mid-grey is not necessarily zero),
and signed on a diverging colormap with a symmetric per-image scale ``+-max|d|``.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)

from .experiment import CLAIM_COSINE_THRESHOLD

# the paper draws the classes as light and dark blue bars and the boundary in orange
CLASS_COLORS = {-1: "#6baed6", 1: "#08306b"}
BOUNDARY_COLOR = "tab:orange"
NOT_CONVERGED = dict(color="tab:red", marker="x", ls="none", ms=9, mew=2)
AMPLIFIED = "amplified per image: (d - min) / (max - min)"
SIGNED = "signed, per-image scale ±max|d| (blue < 0 < red)"
FIT_NAMES = {
    "low_reg": "SVM, weak regularisation",
    "high_reg": "SVM, strong regularisation",
    "tilted_reference": "hand-tilted reference (Fig. 3 left)",
}
MAX_EQUAL_ASPECT_RATIO = 4.0  # draw u and v to the same scale if their spans differ less


# ----------------------------------------------------------------------------- helpers


def _sorted(store: xr.Dataset) -> xr.Dataset:
    return store.sortby("lam")


def _class_name(c: int, class_names) -> str:
    if class_names is not None:
        return str(class_names[0] if c < 0 else class_names[1])
    return f"class {c:+d}"


def _pick_lams(lam: np.ndarray, lams, default: list[int]) -> list[int]:
    """Indices (into the sorted ``lam``) nearest in log to the requested ``lams``."""
    if lams is None:
        idx = default
    else:
        req = np.atleast_1d(np.asarray(lams, dtype=np.float64))
        idx = [int(np.argmin(np.abs(np.log(lam) - math.log(r)))) for r in req]
    return list(dict.fromkeys(idx))  # unique, order kept


def _image(flat, shape) -> np.ndarray:
    """A flat feature vector as an image: ``shape`` (H, W), (1, H, W) or (C, H, W)."""
    shape = tuple(int(s) for s in shape)
    img = np.asarray(flat, dtype=np.float64).reshape(shape)
    if img.ndim == 3:
        img = img[0] if shape[0] == 1 else img.transpose(1, 2, 0)
    return img


def amplify(d) -> np.ndarray:
    """Map a perturbation to the full [0, 1] range (constant -> 0.5)."""
    d = np.asarray(d, dtype=np.float64)
    lo, hi = np.nanmin(d), np.nanmax(d)
    if not np.isfinite(hi - lo) or hi - lo <= 0:
        return np.full_like(d, 0.5)
    return (d - lo) / (hi - lo)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _show_gray(ax, flat, shape, unit_range: bool, title: str | None = None) -> None:
    """An input image: on [0, 1] if the data live there, else amplified to [0, 1]."""
    v = np.clip(flat, 0.0, 1.0) if unit_range else amplify(flat)
    img = _image(v, shape)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    _bare(ax)
    if title:
        ax.set_title(title, fontsize=7)


def _show_amplified(ax, flat, shape, title: str | None = None) -> None:
    _show_gray(ax, amplify(flat), shape, unit_range=True, title=title)


def _show_signed(ax, flat, shape) -> None:
    img = _image(flat, shape)
    if img.ndim == 3:  # colour images: one signed map of the channel mean
        img = img.mean(axis=2)
    vmax = float(np.nanmax(np.abs(img))) if img.size else 0.0
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    ax.imshow(img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    _bare(ax)


def _plane_panel(ax, uv: np.ndarray, labels: np.ndarray, boundary, class_names=None) -> dict:
    """Scatter of the two classes in a tilting plane with the boundary line.

    Draws the points coloured by label, each class's mean of the drawn points (a cross;
    it is the class centroid, at ``v = 0``, when all training points are drawn), the
    boundary ``a u + c v + e = 0`` (orange) and the nearest-centroid boundary ``u = 0``
    (grey dotted, tilting angle 0). Equal axis scales unless the spans of ``u`` and
    ``v`` differ by more than ``MAX_EQUAL_ASPECT_RATIO``. Returns the scale note and the
    median / minimum distance of the drawn points to the boundary.
    """
    uv = np.asarray(uv, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    ok = np.isfinite(uv).all(axis=1)
    uv, labels = uv[ok], labels[ok]
    size = 5 if uv.shape[0] > 500 else 14
    for c in (-1, 1):
        pts = uv[labels == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=size,
            color=CLASS_COLORS[c],
            alpha=0.75,
            linewidths=0,
            label=_class_name(c, class_names),
            zorder=2,
        )
    for c in (-1, 1):
        pts = uv[labels == c]
        if len(pts):
            mu = pts.mean(axis=0)
            ax.plot(
                mu[0], mu[1], marker="X", ms=10, color=CLASS_COLORS[c], mec="w", mew=1, zorder=4
            )
    if uv.shape[0]:
        lo, hi = uv.min(axis=0), uv.max(axis=0)
    else:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    lo[0], hi[0] = min(lo[0], 0.0), max(hi[0], 0.0)
    span = hi - lo
    span = np.where(span > 0, span, np.maximum(np.abs(hi), 1.0))
    ratio = float(span[1] / span[0])
    equal = 1.0 / MAX_EQUAL_ASPECT_RATIO <= ratio <= MAX_EQUAL_ASPECT_RATIO
    lo, hi = lo - 0.06 * span, hi + 0.06 * span
    a, c, e = (float(t) for t in np.asarray(boundary, dtype=np.float64))
    wn = math.hypot(a, c)
    dist = np.abs(uv @ np.array([a, c]) + e) / wn if wn > 0 else np.full(len(uv), np.nan)
    if wn > 0 and np.isfinite([a, c, e]).all():
        # an infinite line through two of its points: it does not enter the axis limits
        centre = 0.5 * (lo + hi)
        if abs(c) >= abs(a):
            us = centre[0] + np.array([-0.5, 0.5]) * span[0]
            vs = -(a * us + e) / c
        else:
            vs = centre[1] + np.array([-0.5, 0.5]) * span[1]
            us = -(c * vs + e) / a
        ax.axline(
            (us[0], vs[0]),
            (us[1], vs[1]),
            color=BOUNDARY_COLOR,
            lw=2,
            label="boundary w.x + b = 0",
            zorder=3,
        )
    ax.axvline(0.0, color="0.45", ls=":", lw=1.2, label="nearest-centroid boundary", zorder=1)
    if equal:
        # the data box, widened along one axis to fill the panel (no fixed limits: a
        # fixed box aspect would clash with the figure's constrained layout)
        ax.update_datalim(np.array([lo, hi]))
        ax.set_aspect("equal", adjustable="datalim")
        ax.autoscale_view()
        note = "equal axis scales"
    else:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        note = f"axes NOT to scale (v span / u span = {ratio:.2g})"
    ax.set_xlabel(f"u = (x - m) · z_hat (input units)\n{note}", fontsize=8)
    ax.set_ylabel("v = (x - m) · n_hat (input units)", fontsize=8)
    ax.tick_params(labelsize=7)
    fin = dist[np.isfinite(dist)]
    return {
        "note": note,
        "median_distance": float(np.median(fin)) if fin.size else math.nan,
        "min_distance": float(np.min(fin)) if fin.size else math.nan,
    }


# ----------------------------------------------------------------------------- figures


def angle_figure(sweep_store: xr.Dataset, bootstrap: xr.Dataset | None = None):
    """Paper Fig. 6 as curves: what L2 regularisation does to the linear SVM.

    Four panels against ``lam`` (log x): (a) the tilting angle between ``w`` and the
    centroid difference ``z_hat`` (degrees); (b) the mean and median L2 distance of the
    test points to the boundary, and the norm of the probe image's minimal perturbation
    (the vulnerability the angle controls); (c) train and test accuracy, with the best
    test accuracy starred; (d) the cosine between the probe's minimal perturbation and
    the centroid difference (the paper: it tends to 1 at high regularisation), with the
    0.95 threshold of the metric ``claim_cosine_to_1``. Fits whose duality-gap
    certificate failed are marked with red crosses in every panel. With a ``bootstrap``
    store (:func:`~pipeline_lib.studies.tilting.experiment.bootstrap_sweep`), panels (a)
    and (b) get the 2.5-97.5% band of the angle and of the mean test distance over the
    training-set resamples.
    """
    s = _sorted(sweep_store)
    lam = np.asarray(s.lam.values, dtype=np.float64)
    bad = ~np.asarray(s.converged.values, dtype=bool)
    pal = sns.color_palette("deep")
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.9), layout="constrained")

    def curve(ax, name, label, color, **kw):
        y = np.asarray(s[name].values, dtype=np.float64)
        ax.plot(lam, y, marker="o", ms=4, color=color, label=label, **kw)
        if bad.any():
            ax.plot(lam[bad], y[bad], **NOT_CONVERGED)
        return y

    def band(ax, name, color):
        if bootstrap is None:
            return
        b = bootstrap.sortby("lam")
        v = np.asarray(b[name].values, dtype=np.float64)
        lo, hi = np.nanpercentile(v, [2.5, 97.5], axis=0)
        n = b.sizes["replicate"]
        ax.fill_between(
            b.lam.values, lo, hi, color=color, alpha=0.2, label=f"95% band, {n} bootstrap sets"
        )

    ax = axes[0]
    band(ax, "tilting_angle", pal[0])
    ang = curve(ax, "tilting_angle", "tilting angle", pal[0])
    top = np.nanmax(ang) if np.isfinite(ang).any() else 90.0
    ax.set_ylim(0, max(1.0, 1.1 * top))
    ax.set_ylabel("angle between w and z_hat (degrees)")
    ax.set_title("(a) Fig. 6: tilting angle of the SVM boundary", fontsize=9)

    ax = axes[1]
    band(ax, "mean_test_distance", pal[1])
    ys = [
        curve(ax, "mean_test_distance", "mean, test points", pal[1]),
        curve(ax, "median_test_distance", "median, test points", pal[2], ls="--"),
        curve(ax, "perturbation_norm", "probe image |d|", pal[3], ls=":"),
    ]
    allv = np.concatenate(ys)
    allv = allv[np.isfinite(allv)]
    if allv.size and allv.min() > 0 and allv.max() > 20 * allv.min():
        ax.set_yscale("log")
    ax.set_ylabel("L2 distance to the boundary (input units)")
    ax.set_title("(b) minimal adversarial distance |w.x + b| / |w|", fontsize=9)

    ax = axes[2]
    curve(ax, "train_accuracy", "train", pal[4], ls="--")
    acc = curve(ax, "test_accuracy", "test", pal[5])
    if np.isfinite(acc).any():
        k = int(np.flatnonzero(acc == np.nanmax(acc))[-1])
        ax.plot(lam[k], acc[k], marker="*", ms=14, color=pal[5], ls="none", label="best test")
    accs = np.concatenate([acc, np.asarray(s.train_accuracy.values, dtype=np.float64)])
    accs = accs[np.isfinite(accs)]
    if accs.size:
        ax.set_ylim(max(0.0, float(accs.min()) - 0.05), 1.01)
    ax.set_ylabel("accuracy")
    ax.set_title("(c) accuracy", fontsize=9)

    ax = axes[3]
    curve(ax, "perturbation_cosine", "cos(d, centroid difference)", pal[0])
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(
        CLAIM_COSINE_THRESHOLD,
        color="0.4",
        ls="--",
        lw=1,
        label=f"claim threshold {CLAIM_COSINE_THRESHOLD}",
    )
    cos = np.asarray(s.perturbation_cosine.values, dtype=np.float64)
    low = np.nanmin(cos) if np.isfinite(cos).any() else 0.0
    ax.set_ylim(min(0.0, low - 0.05), 1.05)
    ax.set_ylabel("cosine (= cos of the tilting angle)")
    ax.set_title("(d) probe perturbation vs centroid difference", fontsize=9)

    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("lam (L2 regularisation, log scale)")
        if bad.any():
            ax.plot([], [], label="not converged", **NOT_CONVERGED)
        ax.legend(fontsize=7)
    conv = (
        f"all {lam.size} fits converged"
        if not bad.any()
        else f"{int(bad.sum())} of {lam.size} fits NOT converged (red crosses)"
    )
    fig.suptitle(
        "Boundary tilting vs L2 regularisation (Tilting article Fig. 6): linear SVM "
        f"lam/2 |w|² + mean hinge,\n {s.attrs.get('n_train', '?')} training / "
        f"{s.attrs.get('n_test', '?')} test points; {conv}",
        fontsize=10,
    )
    return fig


def rotation_figure(sweep_store: xr.Dataset, x_train, y_train, *, max_points: int = 600):
    """Tilting article Fig. 7: the boundary tilting between its positions at the
    smallest and the largest lambda of the sweep, in a 3-D subspace around the centroid
    difference z_hat: axes z_hat, n_low (the part of the weakly regularised w orthogonal
    to z_hat: its tilting direction) and a third axis, the part of the strongly
    regularised w orthogonal to both, or, where that w lies in their plane (a boundary
    fully untilted at the largest lambda), the leading within-class direction orthogonal
    to both. Training points (a seeded subset of ``max_points``) relative to the
    centroids' midpoint, coloured by class; the two boundaries are the planes where
    w.x + b = 0 within that subspace. Left: a 3-D view; right: the plane (z_hat, n_low),
    where the boundary tilts from normal to z_hat towards the data."""
    from .experiment import _as_xy, _within_class_direction

    s = _sorted(sweep_store)
    x, y = _as_xy(x_train, y_train)
    z = np.asarray(s.z_hat.values, dtype=np.float64)
    z = z / np.linalg.norm(z)
    origin = np.asarray(s.plane_origin.values, dtype=np.float64)
    ws = [np.asarray(s.w.isel(lam=i).values, dtype=np.float64) for i in (-1, 0)]
    bs = [float(s.b.isel(lam=i).values) for i in (-1, 0)]
    lams = [float(s.lam.values[i]) for i in (-1, 0)]

    def rest(v, basis):
        v = v - sum((v @ e) * e for e in basis)
        return v / np.linalg.norm(v), np.linalg.norm(v)

    n_low, size = rest(ws[1], [z])
    if size < 1e-6 * np.linalg.norm(ws[1]):
        n_low, _ = rest(_within_class_direction(x, y, z, 0), [z])
    third, size = rest(ws[0], [z, n_low])
    third_name = "w_high, rest"
    if size < 1e-3 * np.linalg.norm(ws[0]):
        third, _ = rest(_within_class_direction(x, y, z, 0), [z, n_low])
        third_name = "within-class PC"
    basis = np.stack([z, n_low, third])
    rng = np.random.default_rng(0)
    pick = rng.choice(len(y), size=min(max_points, len(y)), replace=False)
    p3 = (x[pick] - origin) @ basis.T
    fig = plt.figure(figsize=(12, 5.2), layout="constrained")
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax2 = fig.add_subplot(1, 2, 2)
    colors = {-1.0: "tab:blue", 1.0: "tab:orange"}
    for c in (-1.0, 1.0):
        m = y[pick] == c
        ax3.scatter(*p3[m].T, s=4, color=colors[c], alpha=0.5, label=f"class {int(c):+d}")
        ax2.scatter(p3[m, 0], p3[m, 1], s=4, color=colors[c], alpha=0.5)
    lim = np.nanpercentile(np.abs(p3), 99, axis=0) * 1.1 + 1e-12
    uu, vv = np.meshgrid(np.linspace(-lim[1], lim[1], 12), np.linspace(-lim[2], lim[2], 12))
    styles = [("tab:green", "largest"), ("tab:red", "smallest")]
    for w, b, lam, (col, which) in zip(ws, bs, lams, styles, strict=True):
        a = basis @ w  # w.x + b on the subspace: c0 + a.q at origin + basis.T q
        c0 = b + w @ origin
        label = f"boundary, {which} lambda ({lam:.2g})"
        if abs(a[0]) > 1e-12:  # solve for the z_hat coordinate
            zz = -(c0 + a[1] * uu + a[2] * vv) / a[0]
            zz = np.where(np.abs(zz) <= 1.5 * lim[0], zz, np.nan)
            ax3.plot_surface(zz, uu, vv, color=col, alpha=0.25, linewidth=0)
            ax3.plot([], [], color=col, lw=4, alpha=0.5, label=label)
        # the boundary's trace in the plane (z_hat, n_low) (third coordinate 0)
        if abs(a[1]) > 1e-9 * np.linalg.norm(a):
            u = np.linspace(-lim[0], lim[0], 50)
            ax2.plot(u, -(c0 + a[0] * u) / a[1], color=col, label=label)
        elif abs(a[0]) > 1e-12:
            ax2.axvline(-c0 / a[0], color=col, label=label)
    ax3.set_xlabel("z_hat")
    ax3.set_ylabel("n_low")
    ax3.set_zlabel(third_name)
    ax3.set_xlim(-lim[0], lim[0])
    ax3.legend(fontsize=7, loc="upper left")
    ax3.set_title("3-D subspace around z_hat", fontsize=9)
    ax2.set_xlim(-lim[0], lim[0])
    ax2.set_ylim(-lim[1], lim[1])
    ax2.set_xlabel("z_hat (centroid difference)")
    ax2.set_ylabel("n_low (weakly regularised w, orthogonal to z_hat)")
    ax2.set_title("the plane (z_hat, n_low): the boundary tilts towards the data", fontsize=9)
    ax2.legend(fontsize=7)
    fig.suptitle(
        "Tilting article Fig. 7: the boundary rotating about z_hat between the largest and "
        "the smallest regularisation of the sweep",
        fontsize=10,
    )
    return fig


def plane_figure(sweep_store: xr.Dataset, lams=None, *, class_names=None):
    """Paper Fig. 5: the training set projected on the SVM's tilting plane.

    One panel per ``lam`` (default: the smallest and the largest of the sweep, i.e. low
    and high regularisation; otherwise the sweep's ``lam`` nearest in log to each
    requested value): the stored training points (at most ``max_projected`` of them) in
    the coordinates ``(u, v)`` along ``(z_hat, n_hat)`` of that ``lam``'s tilting plane,
    coloured by label, with the SVM boundary (orange) and the nearest-centroid boundary
    ``u = 0`` (grey dotted). At low regularisation the boundary is tilted and passes
    close to the data; at high regularisation it is nearly ``u = 0``. Titles give the
    tilting angle, the accuracies and the median distance of the drawn points to the
    boundary; ``class_names`` names the classes -1 and +1.
    """
    s = _sorted(sweep_store)
    lam = np.asarray(s.lam.values, dtype=np.float64)
    idx = _pick_lams(lam, lams, [0, lam.size - 1])
    fig, axes = plt.subplots(
        1, len(idx), figsize=(5.4 * len(idx), 6.0), squeeze=False, layout="constrained"
    )
    labels = np.asarray(s.train_label.values)
    for ax, k in zip(axes[0], idx, strict=True):
        row = s.isel(lam=k)
        info = _plane_panel(ax, row.projection.values, labels, row.boundary.values, class_names)
        flag = "" if bool(row.converged.values) else " [NOT converged]"
        ax.set_title(
            f"lam = {lam[k]:.3g}{flag}: tilting angle {float(row.tilting_angle):.1f}°\n"
            f"test acc {float(row.test_accuracy):.3f}, train acc "
            f"{float(row.train_accuracy):.3f}, median train distance "
            f"{info['median_distance']:.3g}",
            fontsize=9,
        )
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
    n_drawn = labels.size
    fig.suptitle(
        f"Tilting article Fig. 5: training set ({n_drawn} of {s.attrs.get('n_train', '?')} "
        "points) projected on each lam's tilting plane (z_hat, n_hat),\nrelative to the "
        "centroids' midpoint m; crosses: class means of the drawn points",
        fontsize=10,
    )
    return fig


def perturbation_figure(sweep_store: xr.Dataset, image_shape, *, lams=None, max_panels: int = 10):
    """Paper Fig. 6 (images): the probe's minimal adversarial perturbation along the sweep.

    Columns: the probe test image; one column per ``lam`` (all of them, or at most
    ``max_panels`` spread evenly over the sorted sweep, or the ones nearest to ``lams``);
    last, the centroid difference ``z_hat`` oriented like the perturbations (from the
    probe's predicted class at the largest ``lam`` to the other class). Rows: the
    perturbation ``d`` amplified per image to [0, 1]; ``d`` signed on a diverging
    colormap; the adversarial image ``x + d``. Titles give ``lam``, the tilting angle,
    the cosine of ``d`` with the centroid difference and ``|d|``. The paper: at low
    ``lam`` ``d`` is barely perceptible and noise-like, at high ``lam`` it is clearly
    visible and looks like the centroid difference (cosine -> 1). ``image_shape``:
    ``(H, W)`` (or ``(C, H, W)``) of the flattened features. No pixel-range clipping is
    applied to ``d``; ``x`` and ``x + d`` are shown on [0, 1] (clipped) when the probe
    lies in [0, 1], else amplified per image.
    """
    s = _sorted(sweep_store)
    lam = np.asarray(s.lam.values, dtype=np.float64)
    n = lam.size
    if n <= max_panels:
        default = list(range(n))
    else:
        default = np.unique(np.round(np.linspace(0, n - 1, max_panels)).astype(int)).tolist()
    idx = _pick_lams(lam, lams, default)
    probe = np.asarray(s.probe.values, dtype=np.float64)
    unit = bool(np.nanmin(probe) >= 0.0 and np.nanmax(probe) <= 1.0)
    f_last = float(s.probe_decision.values[-1])
    sign = float(np.sign(f_last)) if np.isfinite(f_last) and f_last != 0.0 else -1.0
    z_or = -sign * np.asarray(s.z_hat.values, dtype=np.float64)
    ncol = len(idx) + 2
    fig = plt.figure(figsize=(1.5 * ncol + 0.6, 5.9))
    gs = fig.add_gridspec(3, ncol, wspace=0.12, hspace=0.5)
    label = s.attrs.get("probe_label")
    lab = f" (label {int(label):+d})" if label is not None else ""
    _show_gray(fig.add_subplot(gs[0, 0]), probe, image_shape, unit, title=f"probe x{lab}")
    ax = fig.add_subplot(gs[1:, 0])
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        "rows:\n1: d, amplified\n2: d, signed\n3: x + d",
        ha="center",
        va="center",
        fontsize=7,
        transform=ax.transAxes,
    )
    for j, k in enumerate(idx, start=1):
        row = s.isel(lam=k)
        d = np.asarray(row.perturbation.values, dtype=np.float64)
        flag = " NC" if not bool(row.converged.values) else ""
        title = (
            f"lam = {lam[k]:.2g}{flag}\nangle {float(row.tilting_angle):.1f}°\n"
            f"cos = {float(row.perturbation_cosine):.2f}, |d| = {float(row.perturbation_norm):.2g}"
        )
        a0, a1, a2 = (fig.add_subplot(gs[r, j]) for r in range(3))
        _show_amplified(a0, d, image_shape, title=title)
        _show_signed(a1, d, image_shape)
        _show_gray(a2, probe + d, image_shape, unit)
        if j == 1:
            a0.set_ylabel("d, amplified", fontsize=7)
            a1.set_ylabel("d, signed", fontsize=7)
            a2.set_ylabel("x + d", fontsize=7)
    ax = fig.add_subplot(gs[0, ncol - 1])
    _show_amplified(ax, z_or, image_shape, title="centroid difference\n±z_hat (cos = 1)")
    _show_signed(fig.add_subplot(gs[1, ncol - 1]), z_or, image_shape)
    fig.suptitle(
        "Minimal L2 adversarial perturbation d of one test image vs L2 regularisation "
        "(Tilting article Fig. 6): noise-like at low lam, a centroid difference at high lam\n"
        f"row 1: {AMPLIFIED}; row 2: {SIGNED}; row 3: x + d; NC: solver not converged",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.03, right=0.99, top=0.8, bottom=0.03)
    return fig


def toy_figure(toy_store: xr.Dataset, *, class_names=None):
    """Paper Fig. 3/4: the two-bar toy in 2 and in many dimensions.

    A grid of rows ``space`` (2d, highdim) by columns ``fit`` (SVM with weak
    regularisation, SVM with strong regularisation, the hand-tilted reference of Fig. 3
    left): the training points of both classes (the bars) in that classifier's own
    tilting plane, with its boundary (orange) and the nearest-centroid boundary (grey
    dotted). Titles give the tilting angle, test accuracy and the smallest distance of
    a training point to the boundary. The paper's point: what matters is the tilt of
    ``w``, not the dimension; the weakly regularised SVM can only tilt in the
    high-dimensional space (through the flat noise directions).
    """
    spaces, fits = list(toy_store.space.values), list(toy_store.fit.values)
    fig, axes = plt.subplots(
        len(spaces),
        len(fits),
        figsize=(5.0 * len(fits), 5.0 * len(spaces) + 0.4),
        squeeze=False,
        layout="constrained",
    )
    labels = np.asarray(toy_store.label.values)
    for i, space in enumerate(spaces):
        for j, fit in enumerate(fits):
            cell = toy_store.sel(space=space, fit=fit)
            ax = axes[i, j]
            _plane_panel(ax, cell.projection.values, labels, cell.boundary.values, class_names)
            lam = float(cell.lam)
            name = FIT_NAMES.get(str(fit), str(fit))
            if np.isfinite(lam):
                name += f" (lam = {lam:g})"
            nf = (
                f", d = {int(toy_store.n_features.sel(space=space))}"
                if "n_features" in toy_store.coords
                else ""
            )
            flag = "" if bool(cell.converged) else " [NOT converged]"
            ax.set_title(
                f"{space}{nf}: {name}{flag}\nangle {float(cell.tilting_angle):.1f}°, test acc "
                f"{float(cell.test_accuracy):.3f}, min train distance "
                f"{float(cell.min_train_distance):.3g}",
                fontsize=8,
            )
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="best", framealpha=0.85)
    fig.suptitle(
        "Tilting article Fig. 3/4: the same two classes (bars) in 2 and in many dimensions, "
        "each in the classifier's own tilting plane\norange: its boundary, dotted: "
        "nearest-centroid boundary, crosses: class means",
        fontsize=10,
    )
    return fig


def fig3_figure(store: xr.Dataset, *, class_names=None):
    """The article's Fig. 3 as stated: rows 2-D and high-dimensional, columns the
    untilted boundary (w = the centroid difference) and the tilted one (rotated across
    the segments, still separating them): the training points in coordinates 0 (class
    direction) and 1 (across), the boundary (orange). Right: every test point's distance
    to each boundary (its minimal adversarial perturbation), per space. High dimension
    is neither necessary (the tilted 2-D boundary is close to the data) nor sufficient
    (the untilted high-dimensional one is as far as in 2-D)."""
    spaces, kinds = list(store.space.values), list(store.boundary.values)
    fig = plt.figure(figsize=(15.5, 3.4 * len(spaces) + 0.6), layout="constrained")
    grid = fig.add_gridspec(len(spaces), len(kinds) + 1)
    labels = np.asarray(store.train_label.values)
    for i, space in enumerate(spaces):
        n_feat = int(store.n_features.sel(space=space))
        for j, kind in enumerate(kinds):
            cell = store.sel(space=space, boundary=kind)
            ax = fig.add_subplot(grid[i, j])
            _plane_panel(
                ax, cell.train_points.values, labels, cell.boundary_line.values, class_names
            )
            # equal scales: the segments are a line, and the tilted boundary lies close to it
            half = 0.5 * float(np.ptp(cell.train_points.values[:, 0])) + 0.5
            ax.set_xlim(-half, half)
            ax.set_ylim(-0.35 * half, 0.35 * half)
            ax.set_aspect("equal")
            ax.set_xlabel("coordinate 0 (class direction)")
            ax.set_ylabel("coordinate 1 (across the segments)")
            ax.set_title(
                f"d = {n_feat}, {kind} boundary"
                + (f" ({store.attrs['tilt_deg']:.1f}°)" if kind == "tilted" else " (0°)")
                + f"\ntest acc {float(cell.correct.mean()):.3f}, median test distance "
                f"{float(np.median(cell.distance.values)):.3g}",
                fontsize=8,
            )
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="best", framealpha=0.85)
    ax = fig.add_subplot(grid[:, len(kinds)])
    rows = []
    for space in spaces:
        for kind in kinds:
            d = store.distance.sel(space=space, boundary=kind).values
            n_feat = int(store.n_features.sel(space=space))
            rows += [{"boundary": f"d = {n_feat}, {kind}", "distance": float(v)} for v in d]
    import pandas as pd

    sns.stripplot(
        data=pd.DataFrame(rows), x="distance", y="boundary", ax=ax, size=3, alpha=0.6,
        hue="boundary", legend=False, palette="deep",
    )  # fmt: skip
    ax.axvline(0.5 * float(store.attrs["gap"]), color="grey", ls=":", lw=1)
    ax.set_xlabel("test point's L2 distance to the boundary (dotted: half the gap)")
    ax.set_ylabel("")
    ax.set_title("minimal adversarial perturbation per test point", fontsize=9)
    fig.suptitle(
        "Tilting article Fig. 3: high dimensionality is neither necessary nor sufficient for "
        "adversarial examples; what matters is the tilt of w",
        fontsize=10,
    )
    return fig
