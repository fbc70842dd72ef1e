import numpy as np
import pytest

from pipeline_lib.studies.lowdim.boundary import (
    angle_to_subspace,
    distance_to_points,
    grid_zero_crossings,
    nearest_crossing_offset,
    random_direction_angles,
)


def test_plane_boundary_exact():
    axes = [np.linspace(0, 1, 21)] * 3
    x, y, z = np.meshgrid(*axes, indexing="ij")
    pts = grid_zero_crossings(z - 0.33, axes)
    np.testing.assert_allclose(pts[:, 2], 0.33)
    assert len(pts) == 21 * 21
    d = distance_to_points(np.array([[0.5, 0.5, 0.5], [0.1, 0.9, 0.0]]), pts)
    np.testing.assert_allclose(d, [0.17, 0.33], atol=1e-9)


def test_circle_boundary_within_grid_error():
    axes = [np.linspace(0, 1, 201)] * 2
    x, y = np.meshgrid(*axes, indexing="ij")
    pts = grid_zero_crossings(np.hypot(x - 0.5, y - 0.5) - 0.3, axes)
    r = np.hypot(pts[:, 0] - 0.5, pts[:, 1] - 0.5)
    assert np.abs(r - 0.3).max() < 1e-3
    assert distance_to_points(np.array([[0.5, 0.5]]), pts)[0] == pytest.approx(0.3, abs=1e-3)


def test_no_boundary_gives_nan():
    axes = [np.linspace(0, 1, 5)] * 2
    pts = grid_zero_crossings(np.ones((5, 5)), axes)
    assert pts.shape == (0, 2)
    assert np.isnan(distance_to_points(np.zeros((3, 2)), pts)).all()


def test_nearest_crossing_offset():
    s = np.linspace(-0.5, 0.5, 101)
    prof = np.stack([s - 0.2, s + 0.1, np.ones_like(s), (s - 0.3) * (s + 0.25), -(s - 0.123)])
    np.testing.assert_allclose(
        nearest_crossing_offset(prof, s), [0.2, -0.1, np.nan, -0.25, 0.123], atol=1e-9
    )
    # NaN samples (outside the cube) never form a crossing
    masked = np.where(s > 0, np.nan, s - 0.2)
    assert np.isnan(nearest_crossing_offset(masked[None], s)[0])


def test_angle_to_subspace():
    plane = np.eye(3)[:2]
    ang = angle_to_subspace(
        np.array([[1, 0, 0], [0, 0, 2], [1, 0, 1], [0, 3, 3 * np.sqrt(3)]]), plane
    )
    np.testing.assert_allclose(ang, [0, 90, 45, 60], atol=1e-9)


def test_random_direction_control_matches_theory():
    # uniform direction in R^3 vs a plane: E[angle] = pi/2 - 1 rad; in R^2 vs a line: 45 deg
    a3 = random_direction_angles(3, np.eye(3)[:2], 200_000, 0).mean()
    a2 = random_direction_angles(2, np.eye(2)[:1], 200_000, 0).mean()
    assert a3 == pytest.approx(np.degrees(np.pi / 2 - 1), abs=0.3)
    assert a2 == pytest.approx(45.0, abs=0.3)
