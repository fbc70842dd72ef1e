"""P7 of benchmarks/suite.py, in a fresh process: a Squiggles training job's loop
(``squiggles.experiment.train_classifier``, the default CNN) on a streamed training set
of N configured curves, for a few batches, with one DataLoader worker; then the peak
resident memory of the training process (VmHWM) and of its worker (the largest peak
among its waited-for children, ru_maxrss). Prints one JSON line.

Usage: python benchmarks/_stream_memory.py N [BATCHES]
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import torch
import yaml
from _bench_common import vm_hwm_mb

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from pipeline_lib.studies.squiggles import experiment as se

    n = int(sys.argv[1])
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    sq = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["squiggles"]
    cfg, res = sq["classifier"], sq["resolution"]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, _, _ = se.build_classifier(cfg, res)
    stream = se.CurveStream("sinenet", 0, n, res, sq["stream"]["chunk"], 1)
    t0 = time.perf_counter()
    se.train_classifier(
        model, None, None, epochs=1, lr=cfg["lr"], batch_size=cfg["batch_size"],
        noise_sigma=0.0, seed=0, log=lambda s: None, stream=stream, max_batches=batches,
    )  # fmt: skip
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "n": n,
                "batches": batches,
                "seconds": time.perf_counter() - t0,
                "peak_rss_mb": vm_hwm_mb(),
                "worker_peak_rss_mb": worker,
                "chunk": stream.chunk,
            }
        )
    )


if __name__ == "__main__":
    main()
