"""Make a copy of the workflow look exactly as after a complete `make figures` run of
the default config, in about a second: every job's outputs are created (empty files,
empty directories for directory outputs) in DAG order, and Snakemake's own
persistence layer records each job as finished (code, params, input, software stack:
the same metadata a real run writes). Used by the P5 row of benchmarks/suite.py to
time `snakemake -n` on the up-to-date default DAG without running it for hours.

Usage: python benchmarks/_uptodate.py WORKDIR [CONFIGFILE]

Uses Snakemake's Python API and two of its internals (_prepare_dag, persistence);
written for Snakemake 9 (the project pins >=9,<10).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import (
    ConfigSettings,
    DAGSettings,
    ExecutionSettings,
    OutputSettings,
    Quietness,
    ResourceSettings,
)


def main() -> None:
    wd = Path(sys.argv[1]).resolve()
    cfg = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else wd / "config" / "config.yaml"
    t0 = time.perf_counter()
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[cfg]),
            snakefile=wd / "Snakefile",
            workdir=wd,
        )
        wf.dag(DAGSettings(targets={"figures/"}))
        w = wf._workflow
        w.execution_settings = ExecutionSettings()
        w._prepare_dag(forceall=False, ignore_incomplete=False, lock_warn_only=False, nolock=True)
        w._build_dag()
        jobs = list(w.dag.needrun_jobs())
        done = 0
        for level in w.dag.toposorted(jobs):
            for job in level:
                for f in [*job.output, *([job.benchmark] if job.benchmark else [])]:
                    p = Path(f)
                    if getattr(f, "is_directory", False):
                        p.mkdir(parents=True, exist_ok=True)
                    else:
                        p.parent.mkdir(parents=True, exist_ok=True)
                        p.touch()
                w.async_run(w.persistence.finished(job))
                done += 1
            time.sleep(0.01)  # strictly increasing mtimes from one DAG level to the next
    print(f"{done} jobs recorded as finished in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
