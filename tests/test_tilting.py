"""Boundary tilting (Tanay & Griffin): the linear SVM solver, the tilting plane and angle,
minimal adversarial perturbations, the regularisation sweep and the Fig. 3/4 toy."""

import math

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize

from pipeline_lib.studies.tilting.experiment import (
    SWEEP_TABLE,
    centroid_direction,
    check_probe_index,
    fig3_metrics,
    fig3_panels,
    fit_linear_svm,
    lambda_grid,
    make_toy_bars,
    min_adversarial,
    study_metrics,
    sweep,
    sweep_attrs,
    tilting_angle,
    tilting_metrics,
    tilting_plane,
    toy_2d_vs_highdim,
    toy_metrics,
)
from pipeline_lib.zarr_io import open_store, table_dataset, write_store


def hinge_objective(x, y, w, b, lam):
    return 0.5 * lam * w @ w + np.mean(np.maximum(0.0, 1.0 - y * (x @ w + b)))


def scipy_svm(x, y, lam):
    """Brute force: the hinge SVM as a QP in (w, b, slacks), solved by SLSQP."""
    n, d = x.shape

    def obj(v):
        return 0.5 * lam * v[:d] @ v[:d] + v[d + 1 :].mean()

    def jac(v):
        g = np.zeros_like(v)
        g[:d] = lam * v[:d]
        g[d + 1 :] = 1.0 / n
        return g

    a = np.zeros((n, d + 1 + n))
    a[:, :d] = y[:, None] * x
    a[:, d] = y
    a[:, d + 1 :] = np.eye(n)
    cons = [{"type": "ineq", "fun": lambda v: a @ v - 1.0, "jac": lambda v: a}]
    bounds = [(None, None)] * (d + 1) + [(0.0, None)] * n
    v0 = np.concatenate([np.zeros(d + 1), np.ones(n)])
    res = minimize(
        obj,
        v0,
        jac=jac,
        constraints=cons,
        bounds=bounds,
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    assert res.success, res.message
    return res.x[:d], res.x[d]


def symmetric_clusters(a, normal, offsets):
    """Class +1 at ``a * normal + o`` and class -1 at ``-a * normal + o`` for offsets ``o``
    orthogonal to ``normal`` (symmetric set), so the hard-margin SVM is known exactly."""
    x = np.concatenate([a * normal + offsets, -a * normal + offsets])
    y = np.repeat([1.0, -1.0], len(offsets))
    return x, y


# ----------------------------------------------------------------------------- SVM


@pytest.mark.parametrize("lam, expected_norm", [(0.01, 2.0), (10.0, 0.05)])
def test_svm_on_symmetric_clusters_has_known_solution(lam, expected_norm):
    # clusters at +-a along a random unit normal u; spread orthogonal to u.
    # hard-margin regime (lam <= a^2): w = u / a, margin a; all-inside regime:
    # every alpha = 1 and w = mean(y x) / lam = a u / lam.
    rng = np.random.default_rng(0)
    d, a = 5, 0.5
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    o = rng.standard_normal((6, d))
    o -= np.outer(o @ u, u)
    o = np.concatenate([o, -o])  # symmetric offsets
    x, y = symmetric_clusters(a, u, o)
    w, b, info = fit_linear_svm(x, y, lam)
    assert info["converged"]
    np.testing.assert_allclose(w, expected_norm * u, atol=1e-8)
    assert abs(b) < 1e-8
    if lam <= a * a:
        assert 1.0 / np.linalg.norm(w) == pytest.approx(a, rel=1e-8)  # the margin


def test_svm_matches_brute_force_qp():
    rng = np.random.default_rng(1)
    n, d = 40, 3
    y = np.where(rng.random(n) < 0.4, -1.0, 1.0)  # unbalanced, overlapping classes
    x = rng.standard_normal((n, d)) + 0.8 * y[:, None] * np.array([1.0, -0.5, 0.0])
    for lam in (0.003, 0.1):
        w, b, info = fit_linear_svm(x, y, lam)
        w_ref, b_ref = scipy_svm(x, y, lam)
        ours = hinge_objective(x, y, w, b, lam)
        ref = hinge_objective(x, y, w_ref, b_ref, lam)
        assert info["converged"]
        assert info["objective"] == pytest.approx(ours, rel=1e-12)
        assert ours == pytest.approx(ref, rel=1e-6)
        assert ours <= ref * (1 + 1e-9)  # certified optimal: never worse than SLSQP
        assert info["duality_gap"] <= 1e-9 * ours
        np.testing.assert_allclose(w, w_ref, atol=1e-4 * np.linalg.norm(w_ref))
        # the hinge, not a smoothed or squared hinge: a perturbed solution is worse
        for eps in (1e-4, -1e-4):
            assert hinge_objective(x, y, w * (1 + eps), b, lam) > ours


def test_svm_bias_is_not_regularised():
    # shifting all inputs far from the origin must only shift the bias
    rng = np.random.default_rng(2)
    y = np.repeat([-1.0, 1.0], 15)
    x = rng.standard_normal((30, 4)) + 0.7 * y[:, None]
    shift = np.array([50.0, -30.0, 20.0, 40.0])
    w0, b0, _ = fit_linear_svm(x, y, 0.05)
    w1, b1, info = fit_linear_svm(x + shift, y, 0.05)
    assert info["converged"]
    np.testing.assert_allclose(w1, w0, atol=1e-6 * np.linalg.norm(w0))
    assert b1 == pytest.approx(b0 - w0 @ shift, abs=1e-5 * abs(w0 @ shift))


def test_svm_is_deterministic_and_validates_labels():
    x, y = make_toy_bars(10, 20, class_std=0.2, seed=3)
    w0, b0, _ = fit_linear_svm(x, y, 1e-3, seed=5)
    w1, b1, _ = fit_linear_svm(x, y, 1e-3, seed=5)
    np.testing.assert_array_equal(w0, w1)
    assert b0 == b1
    with pytest.raises(ValueError, match="-1 or \\+1"):
        fit_linear_svm(x, (y > 0).astype(float), 1e-3)
    with pytest.raises(ValueError, match="lam"):
        fit_linear_svm(x, y, 0.0)


# ----------------------------------------------------------------------------- geometry


def test_centroid_direction():
    x = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 3.0, 4.0], [1.0, 3.0, 4.0]])
    y = np.array([-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(centroid_direction(x, y), [0.0, 0.6, 0.8])


def test_tilting_plane_is_orthonormal_and_contains_w_and_z():
    rng = np.random.default_rng(4)
    w, z = rng.standard_normal(50), rng.standard_normal(50)
    basis = tilting_plane(w, 3.0 * z)  # z_hat need not be normalised on input
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(basis[0], z / np.linalg.norm(z), atol=1e-12)
    residual = w - basis.T @ (basis @ w)
    assert np.linalg.norm(residual) < 1e-12 * np.linalg.norm(w)
    assert basis[1] @ w > 0


def test_tilting_plane_parallel_w_needs_fallback():
    z = np.array([0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="parallel"):
        tilting_plane(2.0 * z, z)
    basis = tilting_plane(2.0 * z, z, fallback=np.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(basis, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], atol=1e-15)


def test_tilting_angle_of_constructed_vectors():
    rng = np.random.default_rng(5)
    z = rng.standard_normal(30)
    z /= np.linalg.norm(z)
    v = rng.standard_normal(30)
    v -= (v @ z) * z
    v /= np.linalg.norm(v)
    for deg in (30.0, 1e-6, 89.0, 150.0):
        th = math.radians(deg)
        w = 7.0 * (math.cos(th) * z + math.sin(th) * v)
        assert tilting_angle(w, z) == pytest.approx(deg, rel=1e-9)
    assert tilting_angle(z, z) == pytest.approx(0.0, abs=1e-12)


def test_min_adversarial_crosses_with_the_distance_as_norm():
    rng = np.random.default_rng(6)
    w, b = rng.standard_normal(10), 0.3
    x = rng.standard_normal((25, 10))
    delta, dist = min_adversarial(x, w, b)
    f0, f1 = x @ w + b, (x + delta) @ w + b
    assert np.all(np.sign(f1) == -np.sign(f0))
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), dist * (1 + 1e-6), rtol=1e-12)
    np.testing.assert_allclose(dist, np.abs(f0) / np.linalg.norm(w), rtol=1e-12)
    # minimal: the closest boundary point is x - f w / |w|^2, along w
    d1, s1 = min_adversarial(x[0], w, b)
    assert d1.shape == (10,) and s1 == pytest.approx(dist[0])
    assert abs(d1 @ w) == pytest.approx(np.linalg.norm(d1) * np.linalg.norm(w))


# ----------------------------------------------------------------------------- sweep + toy


def test_sweep_untilts_with_regularisation(tmp_path):
    kw = dict(class_std=0.3, noise_std=0.05)
    x, y = make_toy_bars(20, 60, seed=0, **kw)
    x_te, y_te = make_toy_bars(30, 60, seed=1, **kw)
    lambdas = [1e-4, 1e-2, 1e-1, 1.0, 10.0]
    ds = sweep(x, y, x_te, y_te, lambdas, probe_index=3, max_projected=25)
    assert ds.converged.all()
    angle = ds.tilting_angle.values
    assert np.all(np.diff(angle) <= 1e-6), angle
    assert angle[0] > 30.0 and angle[-1] < 1.0
    assert ds.train_accuracy.values[0] == 1.0  # the tilted SVM overfits the training set
    cos = ds.perturbation_cosine.values
    assert cos[-1] > 0.95
    np.testing.assert_allclose(cos, np.cos(np.radians(angle)), atol=1e-9)
    np.testing.assert_allclose(
        ds.perturbation_norm, np.linalg.norm(ds.perturbation.values, axis=1), rtol=1e-12
    )
    assert ds.mean_test_distance.values[0] < ds.mean_test_distance.values[-1]
    # the projections and boundary line reproduce the classifier in the plane
    assert ds.projection.shape == (5, 25, 2) and ds.sizes["feature"] == 60
    picked = x[ds.sample.values]
    for k in range(len(lambdas)):
        a, c, e = ds.boundary.values[k]
        u, v = ds.projection.values[k].T
        f = picked @ ds.w.values[k] + ds.b.values[k]
        np.testing.assert_allclose(a * u + c * v + e, f, atol=1e-9 * np.abs(f).max())
    np.testing.assert_array_equal(ds.train_label, y[ds.sample.values])
    for name, v in ds.data_vars.items():
        assert v.attrs.get("description"), name
    back = open_store(write_store(ds, tmp_path / "sweep.zarr", "sweep", {"test": True}))
    np.testing.assert_allclose(back.tilting_angle, ds.tilting_angle)


def test_toy_tilts_only_with_spare_dimensions_and_low_regularisation():
    ds = toy_2d_vs_highdim(n_per_class=20, n_dims=100, seed=0)
    ang = ds.tilting_angle.to_pandas()
    assert ang.loc["highdim", "low_reg"] > 15.0  # flat directions let it tilt
    assert ang.loc["2d", "low_reg"] < 2.0  # no spare direction in 2-D
    assert (ang["high_reg"] < 1e-6).all()  # centroid-difference classifier
    ref = ds.attrs["reference_tilt_deg"]
    np.testing.assert_allclose(ang["tilted_reference"], ref, rtol=1e-9)
    # Fig. 3 (left): the hand-tilted boundary separates the bars but passes close to them
    assert (ds.train_accuracy.sel(fit="tilted_reference") == 1.0).all()
    dmin = ds.min_train_distance
    assert (dmin.sel(fit="tilted_reference") < 0.5 * dmin.sel(fit="high_reg")).all()
    assert ds.converged.all()
    # the boundary line in the plane has the same sign as the labels for the SVM fits
    lab = ds.label.values
    for space in ("2d", "highdim"):
        a, c, e = ds.boundary.sel(space=space, fit="high_reg").values
        u, v = ds.projection.sel(space=space, fit="high_reg").values.T
        assert np.mean(np.sign(a * u + c * v + e) == lab) == 1.0
    for name, v in ds.data_vars.items():
        assert v.attrs.get("description"), name


def test_fig3_high_dimension_neither_necessary_nor_sufficient():
    ds = fig3_panels(n_per_class=30, n_dims=200, seed=0)
    d = ds.distance
    # every boundary separates the test draw; the tilt is most of the largest separating one
    assert bool(ds.correct.all())
    assert 60.0 < ds.attrs["tilt_deg"] < 90.0
    # not necessary: in 2-D the tilted boundary lies far closer to the data
    ratio = d.sel(space="2d", boundary="tilted") / d.sel(space="2d", boundary="untilted")
    assert float(np.median(ratio)) < 0.3
    # not sufficient: the untilted boundary in 200-D is as far as in 2-D (same segments)
    np.testing.assert_allclose(
        d.sel(space="highdim", boundary="untilted"),
        d.sel(space="2d", boundary="untilted"),
        rtol=0.02,
    )
    # the untilted distance is |coordinate 0 - the centroids' midpoint|: about half the
    # gap at least (the midpoint is a sample estimate)
    assert float(d.sel(space="2d", boundary="untilted").min()) > 0.4
    # the boundary line in coordinates 0, 1 separates the training points of the 2-D draw
    lab = ds.train_label.values
    u, v = ds.train_points.sel(space="2d").values.T
    a, c, e = ds.boundary_line.sel(space="2d", boundary="tilted").values
    assert np.all(np.sign(a * u + c * v + e) == lab)
    # thicker segments leave less room to tilt
    thick = fig3_panels(n_per_class=30, n_dims=20, thickness=0.2, seed=0)
    assert thick.attrs["tilt_deg"] < ds.attrs["tilt_deg"]
    m = fig3_metrics(ds)
    assert m["fig3/highdim/n_features"] == 200 and m["fig3/2d-tilted/test_accuracy"] == 1.0
    for name, var_ in ds.data_vars.items():
        assert var_.attrs.get("description"), name


# ----------------------------------------------------------------------------- study helpers


@pytest.mark.parametrize(
    "cfg",
    [
        {"min": 1.0e-3, "max": 10.0, "n": 3},  # config/test.yaml
        {"min": 1.0e-6, "max": 100.0, "n": 9},  # config/config.yaml
        {"min": 1, "max": 100, "n": 2},  # ints as a YAML file may give them
    ],
)
def test_lambda_grid_is_log_spaced_from_min_to_max(cfg):
    lams = lambda_grid(cfg)
    # bitwise the grid the rule has always used
    ref = np.logspace(np.log10(cfg["min"]), np.log10(cfg["max"]), cfg["n"])
    assert lams.dtype == np.float64 and lams.tobytes() == ref.tobytes()
    assert lams.size == cfg["n"] and np.all(np.diff(lams) > 0)
    assert lams[0] == pytest.approx(cfg["min"], rel=1e-12)
    assert lams[-1] == pytest.approx(cfg["max"], rel=1e-12)
    np.testing.assert_allclose(np.diff(np.log10(lams)), np.diff(np.log10(lams))[0], rtol=1e-9)


def test_lambda_grid_rejects_bad_ranges():
    for cfg in ({"min": 0.0, "max": 1.0, "n": 3}, {"min": 2.0, "max": 1.0, "n": 3}):
        with pytest.raises(ValueError, match="lambdas"):
            lambda_grid(cfg)


def test_check_probe_index_names_the_allowed_range():
    check_probe_index(0, 5, "mnist")
    check_probe_index(4, 5, "mnist")
    with pytest.raises(ValueError, match=r"probe_index 5 .* mnist \(5 images\); allowed: 0..4"):
        check_probe_index(5, 5, "mnist")


def test_sweep_attrs_from_the_data_store():
    data = xr.Dataset(
        {"image": (("sample", "channel", "row", "col"), np.zeros((2, 1, 3, 4)))},
        coords={"class_index": [0, 2, 7], "class_name": ("class_index", ["a", "b", "c"])},
    )
    assert sweep_attrs(data, "fashion_mnist", (np.int64(7), 0)) == {
        "dataset": "fashion_mnist",
        "classes": [7, 0],
        "class_names": ["c", "a"],
        "image_shape": [1, 3, 4],
    }


def test_sweep_store_follows_its_table():
    x, y = make_toy_bars(10, 12, class_std=0.3, seed=0)
    x_te, y_te = make_toy_bars(8, 12, class_std=0.3, seed=1)
    ds = sweep(x, y, x_te, y_te, [1e-3, 1.0], probe_index=1, max_projected=15)
    assert list(ds.data_vars) == list(SWEEP_TABLE)
    for name, (dims, desc, units) in SWEEP_TABLE.items():
        assert ds[name].dims == dims, name
        expected = {"description": desc} | ({"units": units} if units else {})
        assert ds[name].attrs == expected, name
    assert ds.converged.dtype == bool and ds.iterations.dtype == np.int64
    assert ds.train_label.dtype == np.int8 and ds.w.dtype == np.float64
    assert ds.sizes == {"lam": 2, "feature": 12, "sample": 15, "plane_axis": 2, "coef": 3}
    with pytest.raises(ValueError, match="do not match"):
        table_dataset(SWEEP_TABLE, {"w": np.zeros((2, 12))})


def test_study_metrics_keys():
    x, y = make_toy_bars(10, 12, class_std=0.3, seed=0)
    x_te, y_te = make_toy_bars(8, 12, class_std=0.3, seed=1)
    sweeps = {
        "mnist": sweep(x, y, x_te, y_te, [1e-3, 1.0], probe_index=0),
        "cifar10": sweep(x, y, x_te, y_te, [1e-2], probe_index=2),
    }
    toy = toy_2d_vs_highdim(n_per_class=10, n_dims=20, seed=0)
    fig3 = fig3_panels(n_per_class=10, n_dims=20, seed=0)
    m = study_metrics(sweeps, toy, None, fig3)
    expected = {}
    for ds, store in sweeps.items():
        expected |= {f"tilting/{ds}/{k}": v for k, v in tilting_metrics(store).items()}
    for key, value in toy_metrics(toy).items():
        parts = key.split("/")
        expected[f"tilting/{'-'.join(['toy', *parts[:-1]])}/{parts[-1]}"] = value
    expected |= {f"tilting/{k}": v for k, v in fig3_metrics(fig3).items()}
    assert list(m) == list(expected) and m == expected
    assert m["tilting/toy-highdim-low_reg/tilting_angle_deg"] > 0
    assert "tilting/toy-2d/n_features" in m and "tilting/toy/reference_tilt_deg" in m
    assert m["tilting/mnist/n_lam"] == 2 and m["tilting/cifar10/n_lam"] == 1
