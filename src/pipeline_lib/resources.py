"""The machine's CPUs, and the local core limit that keeps a run from oversubscribing
them (no torch import: the Snakefile uses this at parse time)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a cgroup or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def limit_local_cores(workflow: Any, warn: Callable[[str], None]) -> int | None:
    """Lower a local run's ``--cores`` to the available CPUs.

    Each job runs ``threads:`` torch threads (see :func:`pipeline_lib.device.set_threads`),
    so Snakemake's core budget is the number of busy threads: granting more cores than
    the machine has would run more threads than CPUs and slow every job down. Cluster
    submissions (non-local executors) are left alone: their jobs run elsewhere.
    Returns the core limit in force (None where Snakemake has none, e.g. a dry run)."""
    if not getattr(workflow, "local_exec", False):
        return None
    cores = workflow.global_resources["_cores"].value
    cpus = available_cpus()
    if cores is None or cores <= cpus:
        return cores
    workflow.global_resources["_cores"] = cpus
    warn(
        f"--cores {cores} is more than the {cpus} CPUs this machine gives the run: "
        f"using {cpus} (jobs x threads never exceed the CPUs)"
    )
    return cpus
