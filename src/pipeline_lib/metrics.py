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


def long_form(metrics: dict) -> list[dict]:
    """The numbers of a merged metrics.json in long form, one row per metric: the key,
    its parts (``experiment``, ``run``, ``metric``: the key split at its first and last
    ``/``), ``value`` and, for a statistic over seeds, ``sd`` and ``n`` (seeds). Entries
    that are not one number (curves, lists, text) are left out: they stay in the JSON."""
    rows = []
    for key, v in sorted(metrics.items()):
        experiment, _, rest = key.partition("/")
        run, _, metric = rest.rpartition("/")
        if isinstance(v, dict) and "mean" in v and not isinstance(v["mean"], list):
            value, sd, n = v["mean"], v.get("std"), v.get("n_seeds")
        elif isinstance(v, bool | int | float):
            value, sd, n = v, None, None
        else:
            continue
        rows.append(
            {
                "key": key,
                "experiment": experiment,
                "run": run,
                "metric": metric,
                "value": value,
                "sd": sd,
                "n": n,
            }
        )
    return rows


def tsv_text(rows: list[dict]) -> str:
    """Rows of :func:`long_form` as tab-separated text with a header (None: empty)."""
    cols = ["key", "experiment", "run", "metric", "value", "sd", "n"]
    lines = ["\t".join(cols)]
    lines += ["\t".join("" if r[c] is None else str(r[c]) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"
