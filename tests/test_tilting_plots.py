"""Boundary-tilting headline metrics and figures, on a real (small) regularisation sweep
of 60 training "images" of 4x4 pixels (the two bars of the toy problem in 16 dimensions)
and a small Fig. 3/4 toy."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from pipeline_lib.studies.tilting import plots as tilting_plots
from pipeline_lib.studies.tilting.experiment import (
    make_toy_bars,
    sweep,
    tilting_metrics,
    toy_2d_vs_highdim,
)

LAMBDAS = [1e-4, 1e-2, 1.0, 10.0]
SHAPE = (4, 4)
SWEEP_KEYS = [
    f"{name}_{reg}"
    for name in (
        "tilting_angle_deg",
        "perturbation_cosine",
        "perturbation_norm",
        "mean_test_distance",
        "median_test_distance",
        "test_accuracy",
        "train_accuracy",
        "lam",
    )
    for reg in ("low_reg", "high_reg")
] + [
    "n_lam",
    "best_test_accuracy",
    "best_lam",
    "angle_monotone_fraction",
    "angle_monotone_tol_deg",
    "angle_spearman_log_lam",
    "angle_spearman_pvalue",
    "all_converged",
    "n_not_converged",
    "claim_cosine_threshold",
    "claim_cosine_to_1",
    "claim_angle_decreases",
    "claim_distance_increases",
    "per_lam",
]
TOY_FIELDS = (
    "tilting_angle_deg test_accuracy train_accuracy min_train_distance mean_test_distance "
    "w_noise_norm lam converged"
).split()


@pytest.fixture(scope="module")
def store():
    kw = dict(class_std=0.3, noise_std=0.05)
    x, y = make_toy_bars(30, 16, seed=0, **kw)
    x_te, y_te = make_toy_bars(40, 16, seed=1, **kw)
    # stored in a scrambled lam order: everything must read it in increasing lam
    return sweep(x, y, x_te, y_te, [LAMBDAS[i] for i in (2, 0, 3, 1)], probe_index=2)


@pytest.fixture(scope="module")
def toy():
    return toy_2d_vs_highdim(n_per_class=10, n_dims=20, seed=0)


def with_angles(store, angles):
    """The store (sorted by lam) with constructed tilting angles."""
    s = store.sortby("lam").copy()
    s["tilting_angle"] = ("lam", np.asarray(angles, dtype=np.float64))
    return s


def scatter_axes(fig):
    return [ax for ax in fig.axes if any(isinstance(c, PathCollection) for c in ax.collections)]


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


# ----------------------------------------------------------------------------- metrics


def test_metrics_match_the_store_and_are_json(store, toy):
    m = tilting_metrics(store, toy)
    assert set(SWEEP_KEYS) <= set(m)
    text = json.dumps(m, allow_nan=False)  # plain types, no NaN
    assert json.loads(text) == m
    s = store.sortby("lam")
    assert m["n_lam"] == len(LAMBDAS)
    assert m["lam_low_reg"] == min(LAMBDAS) and m["lam_high_reg"] == max(LAMBDAS)
    assert m["tilting_angle_deg_low_reg"] == float(s.tilting_angle[0])
    assert m["tilting_angle_deg_high_reg"] == float(s.tilting_angle[-1])
    assert m["perturbation_cosine_high_reg"] == float(s.perturbation_cosine[-1])
    assert m["mean_test_distance_low_reg"] == float(s.mean_test_distance[0])
    assert m["test_accuracy_high_reg"] == float(s.test_accuracy[-1])
    assert m["best_test_accuracy"] == float(s.test_accuracy.max())
    assert float(s.test_accuracy.sel(lam=m["best_lam"])) == m["best_test_accuracy"]
    assert m["all_converged"] is bool(s.converged.all())
    assert m["claim_cosine_to_1"] is (float(s.perturbation_cosine[-1]) >= 0.95)
    # this sweep untilts: the angle falls from ~67 degrees to 0
    assert m["tilting_angle_deg_low_reg"] > 30.0 and m["tilting_angle_deg_high_reg"] < 1.0
    assert m["claim_cosine_to_1"] and m["claim_angle_decreases"]
    assert m["angle_monotone_fraction"] == 1.0
    assert m["angle_spearman_log_lam"] < 0
    assert m["angle_monotone_tol_deg"] == pytest.approx(math.degrees(2 * store.attrs["tol"]))
    rows = m["per_lam"]
    assert [r["lam"] for r in rows] == sorted(LAMBDAS)
    for r, k in zip(rows, range(len(LAMBDAS)), strict=True):
        assert r["tilting_angle_deg"] == float(s.tilting_angle[k])
        assert r["test_accuracy"] == float(s.test_accuracy[k])
        assert r["mean_test_distance"] == float(s.mean_test_distance[k])
        assert r["perturbation_cosine"] == float(s.perturbation_cosine[k])
        assert isinstance(r["converged"], bool)
    # toy keys
    for space in ("2d", "highdim"):
        for fit in ("low_reg", "high_reg", "tilted_reference"):
            cell = toy.sel(space=space, fit=fit)
            for f in TOY_FIELDS:
                assert f"toy/{space}/{fit}/{f}" in m
            assert m[f"toy/{space}/{fit}/tilting_angle_deg"] == float(cell.tilting_angle)
            assert m[f"toy/{space}/{fit}/min_train_distance"] == float(cell.min_train_distance)
        assert m[f"toy/{space}/tilted_reference/lam"] is None  # hand-made: NaN -> None
    assert m["toy/highdim/n_features"] == 20 and m["toy/2d/n_features"] == 2
    assert not any(k.startswith("toy/") for k in tilting_metrics(store))


def test_metrics_of_constructed_angle_sequences(store):
    # monotonically decreasing angle: fraction 1, Spearman -1
    m = tilting_metrics(with_angles(store, [40.0, 30.0, 10.0, 1.0]))
    assert m["angle_monotone_fraction"] == 1.0
    assert m["angle_spearman_log_lam"] == pytest.approx(-1.0)
    assert m["claim_angle_decreases"] is True
    # one increasing step of three
    m = tilting_metrics(with_angles(store, [10.0, 20.0, 5.0, 1.0]), monotone_tol_deg=0.0)
    assert m["angle_monotone_fraction"] == pytest.approx(2 / 3)
    assert m["angle_spearman_log_lam"] == pytest.approx(-0.8)
    # increasing angle; a constant angle has no rank correlation
    m = tilting_metrics(with_angles(store, [1.0, 2.0, 3.0, 4.0]))
    assert m["angle_monotone_fraction"] == 0.0 and m["angle_spearman_log_lam"] == 1.0
    assert m["claim_angle_decreases"] is False
    m = tilting_metrics(with_angles(store, [5.0] * 4))
    assert m["angle_monotone_fraction"] == 1.0 and m["angle_spearman_log_lam"] is None


def test_metrics_nan_and_claim_edge_cases(store):
    s = store.sortby("lam").copy(deep=True)
    s["perturbation_cosine"].values[-1] = np.nan  # probe exactly on the boundary
    s["converged"].values[1] = False
    m = tilting_metrics(s)
    json.dumps(m, allow_nan=False)
    assert (
        m["perturbation_cosine_high_reg"] is None
        and m["per_lam"][-1]["perturbation_cosine"] is None
    )
    assert m["claim_cosine_to_1"] is False
    assert m["all_converged"] is False and m["n_not_converged"] == 1
    s["perturbation_cosine"].values[-1] = 0.9499
    assert tilting_metrics(s)["claim_cosine_to_1"] is False
    s["perturbation_cosine"].values[-1] = 0.95
    assert tilting_metrics(s)["claim_cosine_to_1"] is True
    one = tilting_metrics(store.isel(lam=[0]))
    assert one["angle_monotone_fraction"] is None and one["angle_spearman_log_lam"] is None
    json.dumps(one, allow_nan=False)


# ----------------------------------------------------------------------------- figures


def test_angle_figure(store):
    fig = tilting_plots.angle_figure(store)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        xs = ax.get_lines()[0].get_xdata()
        np.testing.assert_array_equal(xs, sorted(LAMBDAS))  # drawn in increasing lam
    np.testing.assert_allclose(
        fig.axes[0].get_lines()[0].get_ydata(), store.sortby("lam").tilting_angle.values
    )
    assert not any(line.get_marker() == "x" for ax in fig.axes for line in ax.get_lines())
    plt.close(fig)
    s = store.copy(deep=True)
    s["converged"].values[0] = False
    fig = tilting_plots.angle_figure(s)
    for ax in fig.axes:  # non-converged fits are marked in every panel
        assert any(line.get_marker() == "x" and len(line.get_xdata()) for line in ax.get_lines())
    assert "NOT converged" in fig._suptitle.get_text()
    plt.close(fig)


def test_plane_figure(store):
    s = store.sortby("lam")
    fig = tilting_plots.plane_figure(store)
    assert isinstance(fig, Figure)
    axes = scatter_axes(fig)
    assert len(axes) == 2
    lab = s.train_label.values
    for ax, k in zip(axes, (0, len(LAMBDAS) - 1), strict=True):
        assert f"{s.tilting_angle.values[k]:.1f}°" in ax.get_title()
        pts = [c for c in ax.collections if isinstance(c, PathCollection)]
        np.testing.assert_allclose(pts[0].get_offsets(), s.projection.values[k][lab == -1])
        np.testing.assert_allclose(pts[1].get_offsets(), s.projection.values[k][lab == 1])
        # the orange line is the stored boundary a u + c v + e = 0
        a, c, e = s.boundary.values[k]
        line = next(x for x in ax.get_lines() if x.get_label().startswith("boundary"))
        u, v = np.array([line.get_xy1(), line.get_xy2()]).T
        assert abs(u[1] - u[0]) + abs(v[1] - v[0]) > 0
        np.testing.assert_allclose(a * u + c * v + e, 0.0, atol=1e-9 * (abs(a) + abs(c) + abs(e)))
    plt.close(fig)
    fig = tilting_plots.plane_figure(store, [1e-4, 1e-2, 1.0, 0.9], class_names=("I", "J"))
    axes = scatter_axes(fig)
    assert len(axes) == 3  # 0.9 and 1.0 both pick lam = 1
    assert axes[0].get_legend().get_texts()[0].get_text() == "I"
    plt.close(fig)


@pytest.mark.parametrize("max_panels, n_lam", [(10, 4), (2, 2)])
def test_perturbation_figure(store, max_panels, n_lam):
    fig = tilting_plots.perturbation_figure(store, SHAPE, max_panels=max_panels)
    assert isinstance(fig, Figure)
    imgs = image_axes(fig)
    # probe; per lam: amplified, signed, x + d; centroid difference: amplified, signed
    assert len(imgs) == 1 + 3 * n_lam + 2
    for ax in imgs:
        assert ax.images[0].get_array().shape == SHAPE
    titles = [ax.get_title() for ax in imgs if ax.get_title().startswith("lam = ")]
    assert len(titles) == n_lam and all("cos = " in t and "|d| = " in t for t in titles)
    amplified = [ax for ax in imgs if ax.get_title().startswith(("lam = ", "centroid"))]
    for ax in amplified:  # amplified per image to [0, 1]
        arr = np.asarray(ax.images[0].get_array())
        assert arr.min() == pytest.approx(0.0) and arr.max() == pytest.approx(1.0)
    signed = [ax for ax in imgs if ax.images[0].get_cmap().name == "RdBu_r"]
    assert len(signed) == n_lam + 1
    plt.close(fig)


def test_toy_figure(toy):
    fig = tilting_plots.toy_figure(toy)
    assert isinstance(fig, Figure)
    axes = scatter_axes(fig)
    assert len(axes) == 6
    ang = toy.tilting_angle.values.ravel()
    for ax, a in zip(axes, ang, strict=True):
        assert f"angle {a:.1f}°" in ax.get_title() and "test acc" in ax.get_title()
    plt.close(fig)


def test_fig3_figure():
    from pipeline_lib.studies.tilting.experiment import fig3_panels

    store = fig3_panels(n_per_class=15, n_dims=30, seed=0)
    fig = tilting_plots.fig3_figure(store)
    titles = [ax.get_title() for ax in fig.axes]
    tilt = f"({store.attrs['tilt_deg']:.1f}°)"
    assert sum(tilt in t for t in titles) == 2 and sum("(0°)" in t for t in titles) == 2
    assert sum("d = 30" in t for t in titles) == 2
    scatter = [ax for ax in fig.axes if "boundary" in ax.get_title()]
    assert all(ax.get_aspect() == 1.0 for ax in scatter)  # equal scales: the tilt is visible
    strip = fig.axes[-1]
    assert len(strip.get_yticklabels()) == 4  # every space x boundary
    plt.close(fig)


# ----------------------------------------------------------------------------- bootstrap


@pytest.fixture(scope="module")
def boot():
    from pipeline_lib.studies.tilting.experiment import bootstrap_sweep

    kw = dict(class_std=0.3, noise_std=0.05)
    x, y = make_toy_bars(30, 16, seed=0, **kw)
    x_te, y_te = make_toy_bars(40, 16, seed=1, **kw)
    return bootstrap_sweep(x, y, x_te, y_te, LAMBDAS, 4, seed=0), (x, y, x_te, y_te)


def test_bootstrap_resamples_refit_the_sweep(boot):
    from pipeline_lib.studies.tilting.experiment import bootstrap_sweep

    b, (x, y, x_te, y_te) = boot
    assert b.tilting_angle.dims == ("replicate", "lam") and b.sizes["replicate"] == 4
    ang = b.tilting_angle.values
    assert np.isfinite(ang).all() and b.converged.values.all()
    # resamples differ from each other, and regularisation untilts every one of them
    assert np.ptp(ang[:, 0]) > 0
    assert (ang[:, -1] < ang[:, 0]).all()
    # seeded: the same draws again; another seed, other draws
    again = bootstrap_sweep(x, y, x_te, y_te, LAMBDAS, 4, seed=0)
    np.testing.assert_array_equal(again.tilting_angle.values, ang)
    other = bootstrap_sweep(x, y, x_te, y_te, LAMBDAS, 4, seed=1)
    assert not np.array_equal(other.tilting_angle.values, ang)
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_sweep(x, y, x_te, y_te, LAMBDAS, 0)


def test_bootstrap_metrics_are_per_resample_spearman(boot):
    from scipy import stats

    from pipeline_lib.studies.tilting.experiment import bootstrap_metrics, study_metrics

    b, _ = boot
    m = bootstrap_metrics(b)
    json.dumps(m, allow_nan=False)
    rho = m["bootstrap_angle_spearman_log_lam"]
    assert rho["n_seeds"] == 4 and len(rho["per_seed"]) == 4
    r0 = stats.spearmanr(np.log(LAMBDAS), b.tilting_angle.values[0]).statistic
    assert rho["per_seed"][0] == pytest.approx(r0)
    assert rho["mean"] < 0  # the angle falls with lambda on every resample
    ends = m["bootstrap_tilting_angle_deg_low_reg"]["per_seed"]
    np.testing.assert_allclose(ends, b.tilting_angle.values[:, 0])
    assert m["bootstrap_replicates"] == 4 and m["bootstrap_all_converged"] is True
    # composed under the dataset's prefix only where a bootstrap store is given
    toy = toy_2d_vs_highdim(n_per_class=5, n_dims=6, seed=0)
    sw = sweep(*boot[1], LAMBDAS, probe_index=0)
    with_boot = study_metrics({"d": sw}, toy, {"d": b})
    assert "tilting/d/bootstrap_angle_spearman_log_lam" in with_boot
    assert not any("bootstrap" in k for k in study_metrics({"d": sw}, toy))


def test_angle_figure_draws_the_bootstrap_bands(store, boot):
    from matplotlib.collections import PolyCollection

    b, _ = boot
    plain = tilting_plots.angle_figure(store)
    banded = tilting_plots.angle_figure(store, b)
    n_bands = [sum(isinstance(c, PolyCollection) for c in ax.collections) for ax in banded.axes[:2]]
    assert n_bands == [1, 1]
    assert all(not any(isinstance(c, PolyCollection) for c in ax.collections) for ax in plain.axes)
    # the band is the resamples' 2.5-97.5% range of the angle at each lambda
    verts = banded.axes[0].collections[0].get_paths()[0].vertices
    lo, hi = np.percentile(b.sortby("lam").tilting_angle.values, [2.5, 97.5], axis=0)
    assert verts[:, 1].max() == pytest.approx(hi.max())
    assert verts[:, 1].min() == pytest.approx(lo.min(), abs=1e-9)
    assert hi[0] - lo[0] > 0  # the resamples disagree at the smallest lambda
    plt.close("all")


def test_rotation_figure_shows_both_boundaries(store, boot):
    _, (x, y, _, _) = boot
    fig = tilting_plots.rotation_figure(store, x, y)
    assert isinstance(fig, Figure)
    ax3, ax2 = fig.axes[:2]
    labels = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert len(labels) == 2 and "smallest lambda" in labels[1]
    # the drawn trace of the weakly regularised boundary in the plane (z_hat, n_low) lies
    # on that boundary: mapped back to input space, w_low . x + b = 0 along it
    s = store.sortby("lam")
    w, b = s.w.values[0], float(s.b.values[0])
    z = s.z_hat.values / np.linalg.norm(s.z_hat.values)
    n_low = w - (w @ z) * z
    n_low /= np.linalg.norm(n_low)
    q = ax2.get_lines()[-1].get_xydata()
    pts = s.plane_origin.values + q[:, :1] * z + q[:, 1:] * n_low
    np.testing.assert_allclose(pts @ w + b, 0.0, atol=1e-9 * np.abs(w).sum())
    assert np.ptp(q[:, 1]) > 0  # tilted: not normal to z_hat
    assert len(scatter_axes(fig)) >= 1
    plt.close("all")


def test_registry_draws_the_bands_from_a_rules_named_inputs(store, boot, tmp_path):
    """Through the figure rule's inputs (a Snakemake Namedlist, where ``in`` tests the
    values, not the names) the angle figure still finds its bootstrap store."""
    from matplotlib.collections import PolyCollection
    from snakemake.iocontainers import Namedlist

    from pipeline_lib.studies.tilting import registry
    from pipeline_lib.zarr_io import write_store

    paths = {
        "sweep": str(write_store(store, tmp_path / "sweep.zarr", "sweep", {})),
        "bootstrap": str(write_store(boot[0], tmp_path / "boot.zarr", "bootstrap", {})),
    }
    fig = registry.draw("angle", Namedlist(fromdict=paths), {})
    assert any(isinstance(c, PolyCollection) for c in fig.axes[0].collections)
    plt.close("all")
