"""Compare the results of two runs of the workflow, bitwise.

    python tests/compare_runs.py RESULTS_A RESULTS_B

Every Zarr store (each array and coordinate, values and dtypes; attributes such as
provenance are not compared), every checkpoint (each tensor and setting, by torch.load
with weights_only; its provenance is not compared) and every metrics.json (each number,
exactly) found under RESULTS_A must exist under RESULTS_B and be equal; files present in
only one run are listed too. Exit status 0 when everything is equal, 1 otherwise.
Used to check that a refactoring
changes no result (run the same config before and after, then compare).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import zarr


def _stores(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.zarr") if p.is_dir())


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob(pattern) if p.is_file())


def _arrays(group: zarr.Group, prefix: str = "") -> dict[str, zarr.Array]:
    out = {}
    for name, member in group.members():
        if isinstance(member, zarr.Group):
            out.update(_arrays(member, f"{prefix}{name}/"))
        else:
            out[f"{prefix}{name}"] = member
    return out


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (NaN equal to NaN of the same bits)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "OUS":
        return bool(np.array_equal(a, b))
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def compare_store(a: Path, b: Path) -> list[str]:
    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    xa, xb = _arrays(ga), _arrays(gb)
    diffs = [f"only in one run: {k}" for k in sorted(set(xa) ^ set(xb))]
    for k in sorted(set(xa) & set(xb)):
        if not _equal(np.asarray(xa[k][...]), np.asarray(xb[k][...])):
            diffs.append(f"array differs: {k}")
    return diffs


def _tensors(obj, prefix: str = "") -> dict[str, object]:
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
        return out
    if isinstance(obj, list | tuple):
        out = {}
        for i, v in enumerate(obj):
            out.update(_tensors(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def compare_checkpoint(a: Path, b: Path) -> list[str]:
    ta, tb = (
        {
            k: v
            for k, v in _tensors(torch.load(p, map_location="cpu", weights_only=True)).items()
            if not k.startswith("/provenance")
        }
        for p in (a, b)
    )
    diffs = [f"only in one: {k}" for k in sorted(set(ta) ^ set(tb))]
    for k in sorted(set(ta) & set(tb)):
        va, vb = ta[k], tb[k]
        if isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor):
            same = va.dtype == vb.dtype and _equal(va.numpy(), vb.numpy())
        else:
            same = va == vb
        if not same:
            diffs.append(f"differs: {k}")
    return diffs


def compare_metrics(a: Path, b: Path) -> list[str]:
    ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
    diffs = [f"key only in one: {k}" for k in sorted(set(ma) ^ set(mb))]
    diffs += [f"value differs: {k}" for k in sorted(set(ma) & set(mb)) if ma[k] != mb[k]]
    return diffs


def compare_runs(a: Path, b: Path) -> dict[str, list[str]]:
    """Relative path -> differences, for every file that differs (empty: all equal)."""
    report: dict[str, list[str]] = {}
    kinds = [
        (_stores, compare_store),
        (lambda r: _files(r, "*.pt"), compare_checkpoint),
        (lambda r: _files(r, "*metrics.json"), compare_metrics),
    ]
    for lister, compare in kinds:
        la, lb = lister(a), lister(b)
        for rel in sorted(set(la) ^ set(lb)):
            report[str(rel)] = ["present in only one run"]
        for rel in sorted(set(la) & set(lb)):
            diffs = compare(a / rel, b / rel)
            if diffs:
                report[str(rel)] = diffs
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = (Path(x) for x in argv)
    report = compare_runs(a, b)
    n = {
        k: len(lister) for k, lister in (("stores", _stores(a)), ("checkpoints", _files(a, "*.pt")))
    }
    n["metrics files"] = len(_files(a, "*metrics.json"))
    for rel, diffs in report.items():
        print(f"{rel}:")
        for d in diffs[:10]:
            print(f"  {d}")
    summary = ", ".join(f"{v} {k}" for k, v in n.items())
    print(("DIFFERENT: " if report else "bitwise equal: ") + summary)
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
