"""The Zarr contract: labelled xarray stores, attrs with description and provenance,
written to a temporary path and renamed into place so a killed job never leaves
a store that looks complete."""

from __future__ import annotations

import os
import re
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import xarray as xr
import zarr

from .provenance import jsonable

REQUIRED_ATTRS = ("description", "provenance")
# Set by write_store, which writes every chunk (also those that hold only the fill
# value, which Zarr skips by default): in such a store a missing chunk file is damage.
ALL_CHUNKS_ATTR = "all_chunks_written"
FIX = "delete it and rerun the rule that produces it"


class StoreError(RuntimeError):
    """An intermediate store is missing, incomplete or lacks the contract's attrs."""


def _leftovers(path: Path) -> list[Path]:
    """Temporary siblings of ``path`` left by a write that was killed."""
    pat = re.compile(re.escape(path.name) + r"\.(tmp|old)-[0-9a-f]{8}")
    return [p for p in path.parent.iterdir() if pat.fullmatch(p.name)]


def write_store(ds: xr.Dataset, path: str | Path, description: str, provenance: dict) -> Path:
    """Write ``ds`` as a Zarr store at ``path`` atomically.

    The store is written under ``<path>.tmp-<random>`` next to the target, then
    renamed. Any pre-existing store at ``path`` is replaced (renamed aside first, so a
    kill never leaves it half deleted), and leftovers of a killed earlier write of
    the same path are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    ds.attrs = {
        **jsonable(ds.attrs),
        "description": description,
        "provenance": jsonable(provenance),
        ALL_CHUNKS_ATTR: True,
    }
    for name, v in ds.variables.items():
        if "description" not in v.attrs and name in ds.data_vars:
            raise StoreError(f"variable {name!r} has no 'description' attribute")
        v.attrs = jsonable(v.attrs)
    # fixed-width unicode has no stable Zarr v3 encoding; variable-length strings do
    ustr = [n for n, v in ds.variables.items() if v.dtype.kind == "U"]
    ds = ds.assign_coords({n: ds[n].astype(object) for n in ustr if n in ds.coords})
    ds = ds.assign({n: ds[n].astype(object) for n in ustr if n in ds.data_vars})
    for p in _leftovers(path):
        shutil.rmtree(p, ignore_errors=True)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            ds.to_zarr(tmp, mode="w", consolidated=True, write_empty_chunks=True)
        old = None
        if path.exists():
            old = path.with_name(f"{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _check_chunks(path: Path) -> None:
    """Every array of a write_store store must have all its chunk files: Zarr would
    silently read a missing one as the fill value."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        group = zarr.open_group(path, mode="r")
        for name, arr in group.arrays():
            have, want = arr.nchunks_initialized, arr.nchunks
            if have < want:
                raise StoreError(
                    f"store {path} is damaged: variable {name!r} has {want - have} of its "
                    f"{want} chunk files missing (deleted or lost); {FIX}"
                )


def open_store(path: str | Path, load: bool = True) -> xr.Dataset:
    """Open a store written by :func:`write_store`, checking it is complete: it exists,
    has the contract's attrs, no chunk file is missing, and (``load=True``) every
    variable decodes. Any problem raises :class:`StoreError` naming the store (and the
    variable)."""
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
        if ds.attrs.get(ALL_CHUNKS_ATTR):
            _check_chunks(path)
        if load:
            try:
                ds = ds.load()
            except Exception as exc:
                for name, v in ds.variables.items():  # name the variable that fails
                    try:
                        v.load()
                    except Exception as exc_var:
                        raise StoreError(
                            f"store {path} is unreadable: variable {name!r} cannot be decoded "
                            f"({type(exc_var).__name__}: {exc_var}): a corrupt chunk file; "
                            f"{FIX}"
                        ) from exc_var
                raise exc
    except StoreError:
        raise
    except Exception as exc:  # corrupt metadata or chunk, ...
        raise StoreError(
            f"store {path} is unreadable ({type(exc).__name__}: {exc}); {FIX}"
        ) from exc
    return ds


def var(data: Any, dims: tuple[str, ...], description: str, units: str | None = None, **attrs):
    """Build a data-variable tuple with the contract's attrs."""
    a = {"description": description, **attrs}
    if units is not None:
        a["units"] = units
    return (dims, data, a)
