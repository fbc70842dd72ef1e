"""Stale Snakemake locks: a run killed as a whole (``kill -9`` of its process group, a
crashed node, a closed terminal) leaves ``.snakemake/locks`` behind, and the next run
stops with "Directory cannot be locked". :func:`stale_lock` tells such a leftover from
the lock of a run still going (a Snakemake process working in the same directory);
``python -m pipeline_lib.locks [dir]`` (run by ``make figures`` before Snakemake) exits 1
with what to run when the lock is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

MESSAGE = (
    "{workdir}: Snakemake's lock is left over from a run that was killed (no Snakemake "
    "process is running in this directory). Run\n\n    make unlock\n\n(`snakemake "
    "--unlock`), then `make figures` again: finished jobs are kept and interrupted ones "
    "rerun."
)


def running_here(workdir: str | os.PathLike) -> list[int]:
    """PIDs of Snakemake processes (a command line naming snakemake) whose working
    directory is ``workdir``, this process excluded."""
    wd = Path(workdir).resolve()
    out = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmd, cwd = p.info["cmdline"] or [], p.info["cwd"]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if p.info["pid"] == os.getpid() or cwd is None:
            continue
        if any("snakemake" in Path(c).name for c in cmd) and Path(cwd).resolve() == wd:
            out.append(p.info["pid"])
    return out


def stale_lock(workdir: str | os.PathLike) -> bool:
    """True when ``workdir`` holds Snakemake lock files but no Snakemake process runs
    there."""
    locks = Path(workdir) / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir()) and not running_here(workdir)


def main(argv: list[str]) -> int:
    workdir = Path(argv[0] if argv else ".").resolve()
    if stale_lock(workdir):
        print(MESSAGE.format(workdir=workdir), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
