"""The Zarr contract: labelled xarray stores, attrs with description and provenance,
written to a temporary path and renamed into place so a killed job never leaves
a store that looks complete."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import xarray as xr

from .provenance import jsonable

REQUIRED_ATTRS = ("description", "provenance")


class StoreError(RuntimeError):
    """An intermediate store is missing, incomplete or lacks the contract's attrs."""


def write_store(ds: xr.Dataset, path: str | Path, description: str, provenance: dict) -> Path:
    """Write ``ds`` as a Zarr store at ``path`` atomically.

    The store is written under ``<path>.tmp-<random>`` next to the target, then
    renamed. Any pre-existing store at ``path`` is replaced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    ds.attrs = {
        **jsonable(ds.attrs),
        "description": description,
        "provenance": jsonable(provenance),
    }
    for name, v in ds.variables.items():
        if "description" not in v.attrs and name in ds.data_vars:
            raise StoreError(f"variable {name!r} has no 'description' attribute")
        v.attrs = jsonable(v.attrs)
    # fixed-width unicode has no stable Zarr v3 encoding; variable-length strings do
    ustr = [n for n, v in ds.variables.items() if v.dtype.kind == "U"]
    ds = ds.assign_coords({n: ds[n].astype(object) for n in ustr if n in ds.coords})
    ds = ds.assign({n: ds[n].astype(object) for n in ustr if n in ds.data_vars})
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            ds.to_zarr(tmp, mode="w", consolidated=True)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def open_store(path: str | Path, load: bool = True) -> xr.Dataset:
    """Open a store written by :func:`write_store`, checking it is complete."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"store {path} does not exist; run the rule that produces it")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            ds = xr.open_zarr(path)
        missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
        if missing:
            raise StoreError(f"store {path} lacks attrs {missing}: not written by this pipeline?")
        if load:
            ds = ds.load()
    except StoreError:
        raise
    except Exception as exc:  # corrupt chunk, missing metadata, ...
        raise StoreError(
            f"store {path} is unreadable ({type(exc).__name__}: {exc}); delete it and rerun "
            "the rule that produces it"
        ) from exc
    return ds


def var(data: Any, dims: tuple[str, ...], description: str, units: str | None = None, **attrs):
    """Build a data-variable tuple with the contract's attrs."""
    a = {"description": description, **attrs}
    if units is not None:
        a["units"] = units
    return (dims, data, a)
