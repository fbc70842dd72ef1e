"""Provenance records attached to every store and checkpoint."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "torchvision", "numpy", "xarray", "zarr", "scipy", "snakemake", "shapely")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def git_commit(cwd: str | Path | None = None) -> str:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 else "unknown"


def jsonable(obj: Any) -> Any:
    """Round-trip through JSON so the value can be stored as Zarr attributes."""
    return json.loads(json.dumps(obj, default=str))


# Set by runtime.rule_context when a rule's script starts: the default wall time.
JOB_START: float | None = None


def make_provenance(params: Any, **extra: Any) -> dict[str, Any]:
    """The config subset that produced an output plus package versions, git commit,
    device and wall time. ``device`` defaults to ``cpu`` (NumPy-only steps; torch steps
    pass the device they used); ``wall_time_s`` defaults to the seconds since the rule's
    script started (:func:`pipeline_lib.runtime.rule_context`), when known."""
    rec = {
        "config": jsonable(params),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "device": "cpu",
    }
    if JOB_START is not None:
        rec["wall_time_s"] = round(time.time() - JOB_START, 2)
    rec.update(jsonable(extra))
    return rec
