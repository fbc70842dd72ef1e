"""Decision-boundary geometry from sampled logits: zero crossings on grids and
along lines, distances to the boundary, angles to a subspace."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def grid_zero_crossings(values: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """Points where a function sampled on a regular grid changes sign.

    ``values`` has shape ``(len(axes[0]), len(axes[1]), ...)`` (``indexing='ij'``).
    Along every grid edge whose end values differ in sign, the zero is placed by
    linear interpolation. Returns an array ``(m, ndim)`` of boundary points.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != len(axes):
        raise ValueError(f"values has {values.ndim} dims but {len(axes)} axes were given")
    pts = []
    for d in range(values.ndim):
        a = np.take(values, np.arange(values.shape[d] - 1), axis=d)
        b = np.take(values, np.arange(1, values.shape[d]), axis=d)
        mask = (a >= 0) != (b >= 0)  # zeros count as positive
        if not mask.any():
            continue
        idx = np.nonzero(mask)
        frac = a[idx] / (a[idx] - b[idx])
        coords = []
        for e in range(values.ndim):
            ax = np.asarray(axes[e], dtype=np.float64)
            if e == d:
                lo = ax[idx[e]]
                hi = ax[idx[e] + 1]
                coords.append(lo + frac * (hi - lo))
            else:
                coords.append(ax[idx[e]])
        pts.append(np.stack(coords, axis=-1))
    if not pts:
        return np.zeros((0, values.ndim))
    return np.concatenate(pts)


def distance_to_points(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query to the nearest point (NaN if none)."""
    queries = np.asarray(queries, dtype=np.float64)
    if len(points) == 0:
        return np.full(len(queries), np.nan)
    dist, _ = cKDTree(points).query(queries)
    return dist


def nearest_crossing_offset(profiles: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Signed offset of the zero crossing closest to offset 0 along sampled lines.

    ``profiles`` has shape ``(..., len(offsets))``: a function sampled along lines
    ``p + s * n`` at ``s = offsets`` (ascending). NaN samples (outside the domain)
    never form a crossing. Returns ``(...)`` offsets, NaN where no crossing exists.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    a, b = profiles[..., :-1], profiles[..., 1:]
    cross = ((a >= 0) != (b >= 0)) & np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = a / (a - b)
    s = offsets[:-1] + frac * np.diff(offsets)
    s = np.where(cross, s, np.nan)
    absval = np.where(cross, np.abs(s), np.inf)
    best = np.argmin(absval, axis=-1)
    out = np.take_along_axis(s, best[..., None], axis=-1)[..., 0]
    return np.where(
        np.isfinite(np.take_along_axis(absval, best[..., None], -1)[..., 0]), out, np.nan
    )


def angle_to_subspace(vectors: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Angle in degrees between each vector and the span of the orthonormal rows of
    ``basis``: 0 = inside the subspace, 90 = perpendicular to it."""
    vectors = np.asarray(vectors, dtype=np.float64)
    basis = np.asarray(basis, dtype=np.float64)
    proj = vectors @ basis.T
    norm = np.linalg.norm(vectors, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.clip(np.linalg.norm(proj, axis=-1) / norm, 0.0, 1.0)
    return np.degrees(np.arccos(cos))


def random_direction_angles(n: int, basis: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Control: angles between isotropic random directions in R^n and the subspace."""
    rng = np.random.default_rng(seed)
    return angle_to_subspace(rng.normal(size=(count, n)), basis)
