"""Helpers of the end-to-end tests: a copy of the workflow to run in a temporary
directory, and bitwise comparison of two runs' outputs (Zarr stores, checkpoints)."""

import shutil
import subprocess
from pathlib import Path

import torch

from pipeline_lib import checkpoints
from pipeline_lib.zarr_io import open_store

# what a run needs of the repository (results, logs and .snakemake stay behind); the
# copy runs its own library (the Snakefile puts the src/ beside it first on the path)
COPY = (
    "Snakefile", "rules", "scripts", "config", "profiles", "report", "src", "requirements",
    "envs", ".gitignore",
)  # fmt: skip
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info")


def copy_workflow(root: Path, dest: Path) -> Path:
    """Copy the workflow's files from ``root`` into ``dest`` (created if missing), as a
    git checkout of one commit (as a clone is: provenance records its describe)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "workflow copy"]):
        subprocess.run([*git, *cmd], cwd=dest, check=True, capture_output=True)
    return dest


def assert_same_store(a: Path, b: Path):
    """Every variable (data and coordinates) bitwise equal; attrs equal but provenance
    (which records wall time)."""
    da, db = open_store(a), open_store(b)
    assert sorted(da.variables) == sorted(db.variables), (a, b)
    for name in da.variables:
        va, vb = da[name].values, db[name].values
        assert va.dtype == vb.dtype and va.shape == vb.shape, (a, name)
        if va.dtype.kind == "O":
            assert va.tolist() == vb.tolist(), (a, name)
        else:
            assert va.tobytes() == vb.tobytes(), f"{a}: variable {name} differs"
        assert da[name].attrs == db[name].attrs, (a, name)
    strip = lambda d: {k: v for k, v in d.attrs.items() if k != "provenance"}  # noqa: E731
    assert strip(da) == strip(db), a


def _same(a, b, where: str) -> None:
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _same(u, v, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} vs {b!r}"  # NaN == NaN


def assert_same_model(a: Path, b: Path):
    """Everything in two checkpoints equal (tensors bitwise) but their provenance."""
    ca, cb = (checkpoints.load(p) for p in (a, b))
    ca.pop("provenance", None)
    cb.pop("provenance", None)
    _same(ca, cb, str(a))
