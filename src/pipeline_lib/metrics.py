"""The flat ``metrics.json`` files: writing one, merging them into the gallery's."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


def write_json(obj: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)


def merge_metrics(paths: Iterable[str | Path]) -> dict:
    out: dict = {}
    for p in paths:
        part = json.loads(Path(p).read_text())
        dup = set(part) & set(out)
        if dup:
            raise ValueError(f"metric keys defined twice: {sorted(dup)[:5]}")
        out.update(part)
    return dict(sorted(out.items()))
