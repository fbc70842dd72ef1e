"""Low-dimensional synthetic manifolds with exact geometry (DMM Sec. 6, App. C, E.1).

A manifold is ``x = origin + u @ directions`` for ``u`` in ``[0, 1]^k``: an affine
k-dimensional piece inside the cube ``[0, 1]^n``. Its tangent and normal bases are
exact. Labelled clusters form a 1D alternating pattern or a 2D chessboard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from pipeline_lib.zarr_io import var


@dataclass(frozen=True)
class Manifold:
    name: str
    origin: np.ndarray  # (n,)
    directions: np.ndarray  # (k, n): u in [0,1]^k maps into the cube
    description: str

    @property
    def n(self) -> int:
        return self.origin.shape[0]

    @property
    def k(self) -> int:
        return self.directions.shape[0]

    def embed(self, u: np.ndarray) -> np.ndarray:
        return self.origin + np.asarray(u) @ self.directions

    def tangent_basis(self) -> np.ndarray:
        """Orthonormal rows spanning the tangent space, shape (k, n)."""
        q, _ = np.linalg.qr(self.directions.T)
        return q.T.copy()

    def normal_basis(self) -> np.ndarray:
        """Orthonormal rows spanning the orthogonal complement, shape (n - k, n)."""
        t = self.tangent_basis()
        _, _, vt = np.linalg.svd(t, full_matrices=True)
        return vt[self.k :].copy()


MANIFOLDS: dict[str, Manifold] = {
    "line": Manifold(
        "line",
        np.array([0.0, 0.5]),
        np.array([[1.0, 0.0]]),
        "1D line y = 0.5 in [0,1]^2 (DMM App. E.1)",
    ),
    "diagonal": Manifold(
        "diagonal",
        np.array([0.0, 0.0]),
        np.array([[1.0, 1.0]]),
        "1D diagonal line y = x in [0,1]^2 (DMM Fig. 5a)",
    ),
    "plane": Manifold(
        "plane",
        np.array([0.0, 0.0, 0.5]),
        np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        "2D plane z = 0.5 in [0,1]^3 (DMM Fig. 1, 5b)",
    ),
}


def get_manifold(name: str) -> Manifold:
    try:
        return MANIFOLDS[name]
    except KeyError:
        raise ValueError(f"unknown manifold {name!r}; allowed: {sorted(MANIFOLDS)}") from None


def cluster_centres(k: int, per_axis: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Cluster centres in u-space and their chessboard labels (0/1)."""
    c = margin + (1 - 2 * margin) * (np.arange(per_axis) + 0.5) / per_axis
    idx = np.stack(np.meshgrid(*([np.arange(per_axis)] * k), indexing="ij"), -1).reshape(-1, k)
    centres = c[idx]
    labels = idx.sum(axis=1) % 2
    return centres, labels


def probe_grid(k: int, per_axis: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Regular probe grid over the data region ``[margin, 1 - margin]^k`` in u-space."""
    axis = np.linspace(margin, 1 - margin, per_axis)
    u = np.stack(np.meshgrid(*([axis] * k), indexing="ij"), -1).reshape(-1, k)
    return axis, u


def make_lowdim_dataset(
    name: str,
    clusters_per_axis: int,
    points_per_cluster: int,
    test_points_per_cluster: int,
    cluster_std: float,
    margin: float,
    probes: int,
    seed: int,
) -> xr.Dataset:
    """Points exactly on the manifold, labelled by cluster (chessboard), plus probes."""
    m = get_manifold(name)
    rng = np.random.default_rng(seed)
    centres_u, centre_labels = cluster_centres(m.k, clusters_per_axis, margin)
    tan = m.tangent_basis()
    # u-space step that moves one input unit along each orthonormal tangent direction
    scale = 1.0 / np.linalg.norm(m.directions, axis=1)
    xs, ys, cl, split = [], [], [], []
    for part, count in (("train", points_per_cluster), ("test", test_points_per_cluster)):
        for ci, (cu, lab) in enumerate(zip(centres_u, centre_labels, strict=True)):
            u = cu + rng.normal(0.0, cluster_std, size=(count, m.k)) * scale
            u = np.clip(u, 0.0, 1.0)
            xs.append(m.embed(u))
            ys.append(np.full(count, lab))
            cl.append(np.full(count, ci))
            split.append(np.full(count, part))
    x = np.concatenate(xs).astype(np.float32)
    axis, probe_u = probe_grid(m.k, probes, margin)
    ds = xr.Dataset(
        {
            "x": var(x, ("sample", "feature"), "input point on the manifold", units="input"),
            "label": var(np.concatenate(ys).astype(np.int8), ("sample",), "class label (0/1)"),
            "cluster_id": var(
                np.concatenate(cl).astype(np.int32), ("sample",), "index of the sample's cluster"
            ),
            "tangent_basis": var(
                tan, ("tangent", "feature"), "orthonormal basis of the tangent space (rows)"
            ),
            "normal_basis": var(
                m.normal_basis(), ("normal", "feature"), "orthonormal basis of the normal space"
            ),
            "origin": var(m.origin, ("feature",), "manifold origin (u = 0)", units="input"),
            "directions": var(
                m.directions,
                ("tangent", "feature"),
                "manifold directions: x = origin + u @ directions",
            ),
            "cluster_centre": var(
                m.embed(centres_u), ("cluster", "feature"), "cluster centre", units="input"
            ),
            "probe_x": var(
                m.embed(probe_u).astype(np.float32),
                ("probe", "feature"),
                "probe points on a regular grid over the data region of the manifold",
                units="input",
            ),
            "probe_u": var(probe_u, ("probe", "tangent"), "manifold coordinates of the probes"),
        },
        coords={
            "split": ("sample", np.concatenate(split).astype("U5")),
            "sample": np.arange(x.shape[0]),
            "feature": np.arange(m.n),
            "tangent": np.arange(m.k),
            "normal": np.arange(m.n - m.k),
            "probe_axis": ("probe_axis", axis),
        },
        attrs={"manifold": name, "manifold_description": m.description, "k": m.k, "n": m.n},
    )
    return ds
