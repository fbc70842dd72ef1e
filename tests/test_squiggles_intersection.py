"""squiggles.intersection_points: hand-made polylines with known first contacts, a
shapely reference on generated curves, and agreement with squiggles.labels."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import torch

from pipeline_lib.studies.squiggles import generators as sq


def _one(points) -> np.ndarray:
    return sq.intersection_points(np.asarray(points, dtype=np.float64)[None])[0]


def test_simple_arc_has_none():
    t = np.linspace(0.0, np.pi, 100)
    arc = np.stack([0.5 + 0.4 * np.cos(t), 0.5 + 0.4 * np.sin(t)], axis=1)
    assert np.isnan(_one(arc)).all()
    assert sq.labels(arc[None])[0] == 0


def test_single_crossing_point():
    # segment 0 (0,0)-(1,1) is crossed by segment 2 (1,0)-(0,1) at (0.5, 0.5)
    pts = [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]
    np.testing.assert_allclose(_one(pts), [0.5, 0.5], atol=1e-12)
    # an asymmetric X: segment 0 a-b is crossed once, by segment 4 c-d
    a, b = np.array([0.1, 0.2]), np.array([0.9, 0.6])
    c, d = np.array([0.7, 0.1]), np.array([0.3, 0.9])
    pts = [a, b, (0.8, 0.05), (0.75, 0.08), c, d, (0.2, 0.95)]
    t, _ = np.linalg.solve(np.stack([b - a, c - d], axis=1), c - a)  # a + t(b-a) = c + s(d-c)
    np.testing.assert_allclose(_one(pts), a + t * (b - a), atol=1e-9)
    assert sq.labels(np.asarray(pts)[None])[0] == 1


def test_first_of_several_crossings_is_lowest_segment_pair():
    # two crossings: segment 0 is crossed by segment 2; later segment 3 crosses segment 5
    pts = [(0, 0), (2, 0), (1, -1), (1, 1), (3, 1), (4, 2), (4, 0)]
    pts = [(0.1 * x + 0.3, 0.1 * y + 0.5) for x, y in pts]
    np.testing.assert_allclose(_one(pts), [0.4, 0.5], atol=1e-12)


def test_vertex_touching_a_segment_returns_that_vertex():
    # vertex 3 = (0.5, 0.2) lies exactly on segment 0 ((0.2, 0.2)-(0.8, 0.2)); no crossing
    pts = [(0.2, 0.2), (0.8, 0.2), (0.7, 0.6), (0.5, 0.2), (0.3, 0.6)]
    got = _one(pts)
    assert tuple(got) == (0.5, 0.2)  # exactly the vertex, not a rounded crossing
    assert sq.labels(np.asarray(pts)[None])[0] == 1


def test_end_point_touching_and_ring_and_fold_back():
    # the last point lands on segment 0: a touch at that end point
    pts = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.4, 0.1)]
    assert tuple(_one(pts)) == (0.4, 0.1)
    # a closed ring (first point == last point, no other contact) is simple, as in labels
    ring = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1)]
    assert np.isnan(_one(ring)).all()
    assert sq.labels(np.asarray(ring)[None])[0] == 0
    # repeated consecutive points are ignored (no spurious touch of segments i and i+2)
    rep = [(0.1, 0.1), (0.5, 0.2), (0.5, 0.2), (0.9, 0.5)]
    assert np.isnan(_one(rep)).all()
    # a segment doubling back over the previous one: the shared vertex
    fold = [(0.1, 0.1), (0.5, 0.5), (0.3, 0.3), (0.3, 0.9)]
    assert tuple(_one(fold)) == (0.5, 0.5)
    assert sq.labels(np.asarray(fold)[None])[0] == 1
    # collinear overlaps of non-adjacent segments: the start of the overlap when walking
    # along segment i. Segment 4 runs back along segment 0 from outside its left end:
    over = [(0.1, 0.5), (0.6, 0.5), (0.6, 0.8), (0.05, 0.8), (0.05, 0.5), (0.3, 0.5)]
    assert tuple(_one(over)) == (0.1, 0.5)
    # ... and from beyond its right end, overlap x in [0.3, 0.6] along 0.1 -> 0.6:
    over = [(0.1, 0.5), (0.6, 0.5), (0.6, 0.8), (0.9, 0.8), (0.8, 0.5), (0.3, 0.5)]
    assert tuple(_one(over)) == (0.3, 0.5)
    assert sq.labels(np.asarray(over)[None])[0] == 1


def test_shapes_dtypes_and_errors():
    pts = torch.rand(3, 10, 2, dtype=torch.float32)
    out = sq.intersection_points(pts)
    assert out.shape == (3, 2) and out.dtype == np.float64
    assert sq.intersection_points(np.zeros((0, 10, 2))).shape == (0, 2)
    # a fully degenerate curve (all points equal) is simple
    assert np.isnan(sq.intersection_points(np.full((1, 5, 2), 0.5))).all()
    with pytest.raises(ValueError, match="points must be"):
        sq.intersection_points(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="NaN"):
        sq.intersection_points(np.full((1, 3, 2), np.nan))


def _shapely_first(points: np.ndarray) -> np.ndarray:
    """Reference: shapely intersection of the first intersecting segment pair (i < j-1)."""
    segs = shapely.linestrings(np.stack([points[:-1], points[1:]], axis=1))
    i, j = np.triu_indices(len(segs), k=2)
    hit = shapely.intersects(segs[i], segs[j])
    if not hit.any():
        return np.full(2, np.nan)
    k = int(np.argmax(hit))
    geom = shapely.intersection(segs[i[k]], segs[j[k]])
    return np.asarray(shapely.get_coordinates(geom)[0])


@pytest.fixture(scope="module")
def taylor():
    return sq.make_dataset("taylor", 200, 0, "test")


def test_agrees_with_labels_on_taylor_curves(taylor):
    ip = sq.intersection_points(taylor.points.values)
    finite = np.isfinite(ip).all(axis=1)
    assert (np.isfinite(ip).any(axis=1) == finite).all()  # rows are all-NaN or finite
    lab = taylor.label.values
    assert 0 < lab.sum() < lab.size  # both classes present
    np.testing.assert_array_equal(finite, lab == 1)  # zero disagreements


def test_matches_shapely_reference_points(taylor):
    pts = taylor.points.values.astype(np.float64)
    ip = sq.intersection_points(pts)
    ref = np.stack([_shapely_first(p) for p in pts[:60]])
    np.testing.assert_array_equal(np.isnan(ip[:60]), np.isnan(ref))
    np.testing.assert_allclose(ip[:60], ref, atol=1e-9)
    # every located point lies on the curve and inside the unit square
    fin = np.isfinite(ip).all(axis=1)
    dist = shapely.distance(shapely.points(ip[fin]), shapely.linestrings(pts[fin]))
    assert np.max(dist) < 1e-12
    assert ((ip[fin] >= 0) & (ip[fin] <= 1)).all()
