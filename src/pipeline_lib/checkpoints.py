"""Checkpoint files that cannot run code: tensors and plain data only (dicts, lists,
tuples, strings, numbers, booleans, None), written whole then renamed into place, and
loaded with ``torch.load(..., weights_only=True)``, whose unpickler refuses everything
else. A checkpoint from elsewhere that needs more (a pickled class, a function, a NumPy
array) is refused with an error naming the file, before any of its code can run."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_target

PLAIN = (str, int, float, bool, type(None))


class CheckpointError(RuntimeError):
    """A checkpoint file that holds more than tensors and plain data."""


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise ``TypeError`` naming the first value that is not a tensor or plain data."""
    if isinstance(obj, (torch.Tensor, *PLAIN)):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str | int):
                raise TypeError(f"{where}: key {key!r} is a {type(key).__name__}, not str/int")
            check_plain(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}: a checkpoint holds "
        "tensors and plain data only (dicts, lists, tuples, str, int, float, bool, None)"
    )


def save(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` (tensors and plain data only) to ``path`` atomically: a killed job
    never leaves half a checkpoint."""
    path = Path(path)
    check_plain(obj, str(path))
    with atomic_target(path) as tmp:
        torch.save(obj, tmp)
    return path


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Read a checkpoint with ``weights_only=True``; anything but tensors and plain data
    raises :class:`CheckpointError` naming the file and the refused object."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message: a generic paragraph (suggesting to turn weights_only off, which
        # we do not), then what was refused, then a link; keep what was refused
        parts = [p.strip() for p in str(err).split("\n\n") if p.strip()]
        why = parts[1] if len(parts) > 1 else (parts[0] if parts else type(err).__name__)
        raise CheckpointError(
            f"refused to load checkpoint {path}: it holds objects other than tensors and "
            "plain data (dicts, lists, numbers, strings), and unpickling them could run "
            "arbitrary code. Load only checkpoints written by this workflow, or re-save "
            "this one with tensors and plain data only. torch says: " + why
        ) from None
