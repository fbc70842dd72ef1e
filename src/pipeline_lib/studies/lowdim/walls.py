"""The "walls" baseline (the old mental image the DMM paper argues against, Sec. 3):
a decision boundary made of walls perpendicular to the manifold between clusters.

Every point of space takes the label of the nearest cluster centre in manifold
coordinates (its orthogonal projection onto the manifold): Voronoi walls in the
manifold, extruded along the normal. The baseline is measured with the same code as the
trained networks (:func:`experiment.measure_snapshot`), so its clinging metric, normal
offsets and gradient angles are directly comparable.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WallsModel(nn.Module):
    """``logit(x) = min_{c in class 0} |t(x) - c|^2 - min_{c in class 1} |t(x) - c|^2``,
    with ``t(x)`` the tangent coordinates of ``x`` (positive = class 1). The zero level
    is the set of Voronoi walls between clusters of different classes, perpendicular to
    the manifold; the logit does not change along the normal."""

    def __init__(self, centres: np.ndarray, labels: np.ndarray, origin, tangent_basis):
        super().__init__()
        t = torch.as_tensor(np.asarray(tangent_basis), dtype=torch.float64)
        o = torch.as_tensor(np.asarray(origin), dtype=torch.float64)
        c = (torch.as_tensor(np.asarray(centres), dtype=torch.float64) - o) @ t.T
        labels = np.asarray(labels)
        if set(np.unique(labels)) != {0, 1}:
            raise ValueError("the walls baseline needs cluster centres of both classes")
        self.register_buffer("tangent", t)
        self.register_buffer("origin", o)
        self.register_buffer("c0", c[torch.as_tensor(labels == 0)])
        self.register_buffer("c1", c[torch.as_tensor(labels == 1)])
        # no trainable weights; a parameter only carries dtype and device for evaluate()
        self.anchor = nn.Parameter(torch.zeros(1, dtype=torch.float64), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = (x.to(self.tangent.dtype) - self.origin) @ self.tangent.T
        d0 = ((t[..., None, :] - self.c0) ** 2).sum(-1).min(dim=-1).values
        d1 = ((t[..., None, :] - self.c1) ** 2).sum(-1).min(dim=-1).values
        return d0 - d1


def walls_from_data(data) -> WallsModel:
    """The walls baseline of a low-dim dataset store (true cluster labels)."""
    cid = data.cluster_id.values
    centre_labels = np.zeros(data.sizes["cluster"], dtype=np.int8)
    centre_labels[cid] = data.label.values
    return WallsModel(
        data.cluster_centre.values, centre_labels, data.origin.values, data.tangent_basis.values
    )


def walls_experiment(data, *, res: int, normal_steps: int):
    """The walls baseline measured like a trained network's snapshot: an
    ``xarray.Dataset`` with the per-snapshot variables of a run store (no epoch dim)."""
    from pipeline_lib.zarr_io import table_dataset

    from .experiment import GRID, RUN_TABLE, measure_snapshot, normal_offsets

    model = walls_from_data(data)
    train_mask = (data.split == "train").values
    train_x = data.x.values[train_mask].astype(np.float64)
    snap = measure_snapshot(model, data, train_x, res, normal_offsets(normal_steps))
    dim = data.sizes["feature"]
    gdims = tuple(f"grid_{i}" for i in range(dim))
    table = {}
    for k in snap:
        dims, desc, unit = RUN_TABLE[k]
        dims = tuple(d for g in dims[1:] for d in (gdims if g == GRID else (g,)))
        table[k] = (dims, desc.replace("the network", "the walls baseline"), unit)
    table["train_x"] = RUN_TABLE["train_x"]
    snap["train_x"] = train_x.astype(np.float32)
    snap["grid_logit"] = snap["grid_logit"].astype(np.float32)
    axis = np.linspace(0.0, 1.0, res)
    return table_dataset(
        table,
        snap,
        coords={**{g: axis for g in gdims}, "feature": np.arange(dim)},
        attrs={
            "manifold": data.attrs["manifold"],
            "variant": "walls",
            "tangent_basis": data.tangent_basis.values.tolist(),
        },
    )
