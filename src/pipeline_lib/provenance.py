"""Provenance records attached to every store and checkpoint."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# the lock of the checkout this library lives in (src/pipeline_lib -> repository root)
LOCK = Path(__file__).resolve().parents[2] / "requirements" / "default.lock"
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


def _git(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess | None:
    try:
        res = subprocess.run(
            ["git", *args],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res if res.returncode == 0 else None


def git_commit(cwd: str | Path | None = None) -> str:
    res = _git("rev-parse", "HEAD", cwd=cwd)
    return res.stdout.decode().strip() if res else "unknown"


# the diff's bytes must not depend on the user's git settings
_DIFF = (
    "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "core.quotePath=true",
    "diff", "HEAD", "--binary", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv",
)  # fmt: skip
# untracked files that can change a result: code, rules and configs not ignored by git
_CODE = ("*.py", "*.smk", "Snakefile", "*.yaml", "*.yml")


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """``git describe --always --dirty`` of the library's checkout; when the tree has
    uncommitted changes or untracked code (Python, rules, configs), the sha256 of
    ``git diff HEAD`` plus those untracked files (name and content), and their count."""
    res = _git("describe", "--always", "--dirty", cwd=cwd)
    if res is None:
        return {"git_describe": "unknown"}
    out: dict[str, Any] = {"git_describe": res.stdout.decode().strip()}
    top = _git("rev-parse", "--show-toplevel", cwd=cwd)
    others = _git("ls-files", "--others", "--exclude-standard", "-z", "--", *_CODE, cwd=cwd)
    untracked = sorted(n for n in (others.stdout.decode().split("\0") if others else []) if n)
    if out["git_describe"].endswith("-dirty") or untracked:
        diff = _git(*_DIFF, cwd=cwd)
        if diff is None or top is None:
            out["git_diff_sha256"] = "unknown"
            return out
        h = hashlib.sha256(diff.stdout)
        root = Path(top.stdout.decode().strip())
        for name in untracked:
            h.update(b"\0untracked\0" + name.encode() + b"\0")
            h.update((root / name).read_bytes() if (root / name).is_file() else b"")
        out["git_diff_sha256"] = h.hexdigest()
        if untracked:
            out["git_untracked_code_files"] = len(untracked)
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


@functools.lru_cache(maxsize=1)
def environment_digests() -> dict[str, str]:
    """sha256 of the lock the environment is installed from (it pins every package,
    direct and transitive) and of the environment as installed (every distribution's
    name==version, sorted): equal environments give equal digests."""
    installed = sorted(
        f"{d.metadata['Name'].lower()}=={d.version}"
        for d in metadata.distributions()
        if d.metadata["Name"]  # a dist-info without metadata (interrupted install)
    )
    return {
        "lock_sha256": _sha256(LOCK),
        "environment_sha256": hashlib.sha256("\n".join(installed).encode()).hexdigest(),
    }


def cuda_state(device: str) -> dict[str, Any]:
    """On CUDA: torch's CUDA and cuDNN versions, the GPU's name and the determinism and
    TF32 settings in force. Empty on other devices."""
    if not str(device).startswith("cuda"):
        return {}
    import torch

    if not torch.cuda.is_available():
        return {}
    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    return {
        "cuda": {
            "cuda_version": torch.version.cuda,
            "cudnn_version": torch.backends.cudnn.version(),
            "gpu_name": torch.cuda.get_device_name(index),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        }
    }


def jsonable(obj: Any) -> Any:
    """Round-trip through JSON so the value can be stored as Zarr attributes."""
    return json.loads(json.dumps(obj, default=str))


# Set by runtime.rule_context when a rule's script starts: the start of the default wall
# time, and the code digest of the rule's script and the library modules it imports.
# Scripts call the context's ``provenance()``, which passes the rule's config (wildcards
# and params), the device and the wall time since the job started.
JOB_START: float | None = None
CODE_DIGEST: str | None = None


def make_provenance(params: Any, **extra: Any) -> dict[str, Any]:
    """The config subset that produced an output plus what identifies the run: package
    versions, the lock's and the installed environment's digests, git commit and
    ``git describe`` (with a digest of the uncommitted diff when dirty), the rule's code
    digest, the device (with CUDA/cuDNN versions, GPU and determinism settings on CUDA)
    and wall time. ``device`` defaults to ``cpu`` (NumPy-only steps; torch steps pass
    the device they used); ``wall_time_s`` defaults to the seconds since the rule's
    script started (:func:`pipeline_lib.runtime.rule_context`), when known."""
    rec = {
        "config": jsonable(params),
        "packages": package_versions(),
        **environment_digests(),
        "git_commit": git_commit(),
        **git_state(),
        "code_digest": CODE_DIGEST or "unknown",
        "device": "cpu",
    }
    if JOB_START is not None:
        rec["wall_time_s"] = round(time.time() - JOB_START, 2)
    rec.update(jsonable(extra))
    rec.update(jsonable(cuda_state(rec["device"])))
    return rec
