"""The flat ``metrics.json`` files: writing one, merging them into the gallery's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .atomic import atomic_target


def write_json(obj: dict, path: str | Path) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_target(path) as tmp:
        tmp.write_text(text)


def merge_metrics(paths: Iterable[str | Path]) -> dict:
    out: dict = {}
    for p in paths:
        part = json.loads(Path(p).read_text())
        dup = set(part) & set(out)
        if dup:
            raise ValueError(f"metric keys defined twice: {sorted(dup)[:5]}")
        out.update(part)
    return dict(sorted(out.items()))
