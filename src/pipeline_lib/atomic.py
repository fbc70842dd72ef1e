"""Atomic writes: every result file and store of the pipeline is written under a
temporary name next to its target and renamed into place only when complete, so a
killed job never leaves half a checkpoint, store, metrics file or gallery behind.
Standard library only."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def leftovers(path: Path) -> list[Path]:
    """Temporary siblings of ``path`` left by a write that was killed."""
    pat = re.compile(re.escape(path.name) + r"\.(tmp|old)-[0-9a-f]{8}")
    if not path.parent.is_dir():
        return []
    return [p for p in path.parent.iterdir() if pat.fullmatch(p.name)]


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path`` (a file or a directory: whatever
    the block writes there); when the block ends normally, rename it into place, an
    existing target renamed aside first (so a kill never leaves it half deleted).
    Leftovers of a killed earlier write of the same path are removed first; the
    temporary path is removed whatever happens. The parent directory is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in leftovers(path):
        _remove(p)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f"{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            _remove(old)
    finally:
        if tmp.exists():
            _remove(tmp)
