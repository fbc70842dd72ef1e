"""The Zarr contract: labelled xarray stores, attrs with description and provenance,
written to a temporary path and renamed into place so a killed job never leaves
a store that looks complete."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import xarray as xr
import zarr

from .atomic import atomic_target
from .provenance import jsonable

REQUIRED_ATTRS = ("description", "provenance")
# Set by write_store, which writes every chunk (also those that hold only the fill
# value, which Zarr skips by default): in such a store a missing chunk file is damage.
ALL_CHUNKS_ATTR = "all_chunks_written"
FIX = "delete it and rerun the rule that produces it"


class StoreError(RuntimeError):
    """An intermediate store is missing, incomplete or lacks the contract's attrs."""


def _prepare(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` ready for Zarr: every data variable described (else
    :class:`StoreError`), variable attrs JSON-able, fixed-width unicode variables as
    variable-length strings (fixed-width unicode has no stable Zarr v3 encoding)."""
    ds = ds.copy()
    for name, v in ds.variables.items():
        if "description" not in v.attrs and name in ds.data_vars:
            raise StoreError(f"variable {name!r} has no 'description' attribute")
        v.attrs = jsonable(v.attrs)
    ustr = [n for n, v in ds.variables.items() if v.dtype.kind == "U"]
    ds = ds.assign_coords({n: ds[n].astype(object) for n in ustr if n in ds.coords})
    return ds.assign({n: ds[n].astype(object) for n in ustr if n in ds.data_vars})


def _store_attrs(attrs: dict, description: str, provenance: dict) -> dict:
    return {
        **jsonable(attrs),
        "description": description,
        "provenance": jsonable(provenance),
        ALL_CHUNKS_ATTR: True,
    }


def write_store(ds: xr.Dataset, path: str | Path, description: str, provenance: dict) -> Path:
    """Write ``ds`` as a Zarr store at ``path`` atomically.

    The store is written under ``<path>.tmp-<random>`` next to the target, then
    renamed. Any pre-existing store at ``path`` is replaced (renamed aside first, so a
    kill never leaves it half deleted), and leftovers of a killed earlier write of
    the same path are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    attrs = _store_attrs(ds.attrs, description, provenance)
    ds = _prepare(ds)
    ds.attrs = attrs
    with atomic_target(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(tmp, mode="w", consolidated=True, write_empty_chunks=True)
    return path


def write_store_stream(
    parts: Iterable[xr.Dataset],
    path: str | Path,
    description: str,
    provenance: dict | Callable[[], dict],
    append_dim: str,
) -> Path:
    """Write the concatenation along ``append_dim`` of the pieces ``parts`` as a Zarr
    store at ``path``, holding one piece in memory at a time, with the contract of
    :func:`write_store` (temporary path renamed into place, attrs, every chunk written).

    The first piece carries every variable and coordinate and the dataset attrs;
    variables without ``append_dim`` are written from it only (dropped from later
    pieces). Each variable with ``append_dim`` is chunked by the first piece's length
    along it (a shorter last piece gives a partial last chunk). ``provenance`` is a
    dict or a zero-argument callable, called once after the last piece (so it can
    record the full wall time). If ``parts`` raises, nothing is left at ``path`` (an
    existing store there is untouched) and no temporary store remains.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    it = iter(parts)
    with atomic_target(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        piece = next(it, None)
        if piece is None:
            raise ValueError("write_store_stream: no pieces to write")
        if piece.sizes.get(append_dim, 0) == 0:
            raise ValueError(f"write_store_stream: first piece has no {append_dim!r} entries")
        attrs = dict(piece.attrs)
        piece = _prepare(piece)
        appended = sorted(n for n, v in piece.variables.items() if append_dim in v.dims)
        # chunks: the piece's length along append_dim, the full size along other dims
        encoding = {n: {"chunks": tuple(piece[n].shape)} for n in appended}
        # appending rewrites the group attrs with the piece's: the store's attrs are
        # set once, after the last piece
        piece.attrs = {}
        piece.to_zarr(tmp, mode="w", consolidated=False, write_empty_chunks=True, encoding=encoding)
        del piece  # one piece in memory at a time: drop it before computing the next
        for piece in it:
            if append_dim not in piece.dims or piece.sizes[append_dim] == 0:
                del piece
                continue
            piece = _prepare(piece)
            have = sorted(n for n, v in piece.variables.items() if append_dim in v.dims)
            if have != appended:
                raise ValueError(
                    f"write_store_stream: a piece has variables {have} along {append_dim!r}, "
                    f"the first had {appended}"
                )
            piece = piece.drop_vars([n for n in piece.variables if n not in appended])
            piece = piece.drop_encoding()
            piece.attrs = {}
            piece.to_zarr(tmp, append_dim=append_dim, consolidated=False, write_empty_chunks=True)
            del piece
        prov = provenance() if callable(provenance) else provenance
        zarr.open_group(tmp, mode="r+").attrs.put(_store_attrs(attrs, description, prov))
        zarr.consolidate_metadata(tmp)
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


def table_dataset(
    table: Mapping[str, tuple[tuple[str, ...], str, str | None]],
    values: Mapping[str, Any],
    *,
    coords: Mapping | None = None,
    attrs: Mapping | None = None,
    fields: Mapping | None = None,
) -> xr.Dataset:
    """The Dataset of a declarative variable table (name -> dims, description, units),
    one variable per entry in the table's order, its values from ``values`` (exactly the
    table's names: tensors or arrays); ``fields`` fill ``$name`` placeholders of the
    descriptions (:class:`string.Template`)."""
    if set(values) != set(table):
        raise ValueError(f"values do not match the table: {sorted(set(values) ^ set(table))}")

    def array(v):
        return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    def text(description: str) -> str:
        if not fields:
            return description
        return Template(description).substitute({k: f"{v}" for k, v in fields.items()})

    data = {
        name: var(array(values[name]), dims, text(description), units)
        for name, (dims, description, units) in table.items()
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def group(paths, names, seeds, opener=None) -> dict[str, list]:
    """Paths listed name-major then seed (as the rules list them) -> {name: [opened]}
    (opened with ``opener``, :func:`open_store` by default)."""
    opener = opener or open_store
    paths = list(paths)
    if len(paths) != len(names) * len(seeds):
        raise ValueError(f"expected {len(names)} x {len(seeds)} inputs, got {len(paths)}")
    it = iter(paths)
    return {n: [opener(next(it)) for _ in seeds] for n in names}


def open_results(path: str | Path = "results") -> xr.DataTree:
    """Every Zarr store of a run as one :class:`xarray.DataTree`, lazily opened (each
    store checked complete by :func:`open_store`, its arrays read on access). A store
    ``<path>/dmm/fashion_mnist/clean/seed0/attacks.zarr`` is the node
    ``/dmm/fashion_mnist/clean/seed0/attacks``; groups follow the folders (study,
    dataset or manifold, variant, seed). For a notebook::

        tree = pipeline_lib.open_results("results")
        tree["dmm/fashion_mnist/clean/seed0/attacks"].dataset
    """
    root = Path(path)
    if not root.is_dir():
        raise StoreError(f"{root} is not a results folder; run the workflow first")
    stores = sorted(p for p in root.rglob("*.zarr") if p.is_dir() and not _inside_store(p, root))
    if not stores:
        raise StoreError(f"no Zarr stores under {root}; run the workflow first")
    nodes = {
        "/" + p.relative_to(root).with_suffix("").as_posix(): open_store(p, load=False)
        for p in stores
    }
    return xr.DataTree.from_dict(nodes)


def _inside_store(p: Path, root: Path) -> bool:
    """Whether ``p`` lies inside another store (a Zarr group's own folders)."""
    return any(q.suffix == ".zarr" for q in p.relative_to(root).parents if q != Path("."))
