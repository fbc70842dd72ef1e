import numpy as np
import pytest

from pipeline_lib.studies.lowdim.synthetic import (
    MANIFOLDS,
    cluster_centres,
    get_manifold,
    make_lowdim_dataset,
)


@pytest.mark.parametrize("name", sorted(MANIFOLDS))
def test_bases_orthonormal_and_complementary(name):
    m = get_manifold(name)
    t, n = m.tangent_basis(), m.normal_basis()
    assert t.shape == (m.k, m.n) and n.shape == (m.n - m.k, m.n)
    basis = np.vstack([t, n])
    np.testing.assert_allclose(basis @ basis.T, np.eye(m.n), atol=1e-12)
    # the tangent basis spans the manifold directions
    d = m.directions
    np.testing.assert_allclose(d @ n.T, 0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MANIFOLDS))
def test_points_lie_on_the_manifold_inside_cube(name):
    ds = make_lowdim_dataset(name, 6, 5, 3, 0.02, 0.1, 11, seed=3)
    x = ds.x.values.astype(np.float64)
    n = ds.normal_basis.values
    o = ds.origin.values
    np.testing.assert_allclose((x - o) @ n.T, 0, atol=1e-6)
    np.testing.assert_allclose((ds.probe_x.values - o) @ n.T, 0, atol=1e-6)
    assert x.min() >= 0 and x.max() <= 1
    assert (ds.split == "train").sum() == 6 ** get_manifold(name).k * 5


def test_known_geometry():
    line = make_lowdim_dataset("line", 4, 3, 3, 0.01, 0.1, 5, 0)
    np.testing.assert_allclose(line.x.values[:, 1], 0.5)
    plane = make_lowdim_dataset("plane", 4, 3, 3, 0.01, 0.1, 5, 0)
    np.testing.assert_allclose(plane.x.values[:, 2], 0.5)
    diag = make_lowdim_dataset("diagonal", 4, 3, 3, 0.01, 0.1, 5, 0)
    np.testing.assert_allclose(diag.x.values[:, 0], diag.x.values[:, 1], atol=1e-7)
    np.testing.assert_allclose(np.abs(diag.normal_basis.values), np.sqrt(0.5), atol=1e-12)


def test_chessboard_labels_alternate():
    centres, labels = cluster_centres(2, 4, 0.1)
    grid = labels.reshape(4, 4)
    assert (grid[1:] != grid[:-1]).all() and (grid[:, 1:] != grid[:, :-1]).all()
    assert labels.sum() == 8
    assert centres.min() > 0.1 and centres.max() < 0.9


def test_seeded_and_train_test_disjoint():
    a = make_lowdim_dataset("plane", 4, 5, 5, 0.02, 0.1, 5, seed=1)
    b = make_lowdim_dataset("plane", 4, 5, 5, 0.02, 0.1, 5, seed=1)
    c = make_lowdim_dataset("plane", 4, 5, 5, 0.02, 0.1, 5, seed=2)
    np.testing.assert_array_equal(a.x.values, b.x.values)
    assert not np.array_equal(a.x.values, c.x.values)
    tr = {tuple(r) for r in a.x.values[a.split.values == "train"]}
    te = {tuple(r) for r in a.x.values[a.split.values == "test"]}
    assert not tr & te


def test_unknown_manifold():
    with pytest.raises(ValueError, match="allowed"):
        get_manifold("torus")
