"""P6 of benchmarks/suite.py, in a fresh process: the DMM tangent stage
(``pipeline_lib.studies.dmm.experiment.write_tangent_store``, bases streamed to Zarr
chunk by chunk) on N CIFAR-sized inputs (3x32x32 = 3072 features), an MLP autoencoder
(hidden 1024-1024, code k), then this process's peak resident memory (VmHWM: ru_maxrss
would include the parent's peak inherited through fork). Prints one JSON line.

Usage: python benchmarks/_tangent_memory.py TMPDIR N K [CHUNK]
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from _bench_common import vm_hwm_mb


def main() -> None:
    warnings.filterwarnings("ignore")
    tmp, n, k = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    chunk = int(sys.argv[4]) if len(sys.argv) > 4 else None
    from pipeline_lib.models import MLPAutoencoder
    from pipeline_lib.studies.dmm.experiment import tangent_chunk, write_tangent_store
    from pipeline_lib.zarr_io import open_store, var, write_store

    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(0)
    images = rng.random((n, 3, 32, 32), dtype=np.float32)
    data = xr.Dataset(
        {
            "image": var(images, ("sample", "channel", "row", "col"), "random CIFAR-sized images"),
            "label": var(np.arange(n) % 10, ("sample",), "class index"),
            "split": var(np.array(["test"] * n, dtype=object), ("sample",), "split"),
        },
        coords={"sample": np.arange(n), "class_index": np.arange(10)},
    )
    write_store(data, tmp / "data.zarr", "P6 input", {"bench": "P6"})
    del data, images
    ds = open_store(tmp / "data.zarr", load=False)
    torch.manual_seed(0)
    ae = MLPAutoencoder(in_shape=(3, 32, 32), k=k, hidden=(1024, 1024)).eval()
    base = vm_hwm_mb()
    t0 = time.perf_counter()
    out = write_tangent_store(
        ds, ae, n, torch.device("cpu"), tmp / "tangents.zarr", "P6", {"bench": "P6"}, chunk=chunk
    )
    secs = time.perf_counter() - t0
    peak = vm_hwm_mb()
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    shape = open_store(out, load=False).basis.shape
    assert shape == (n, k, 3072), shape
    print(
        json.dumps(
            {
                "peak_rss_mb": peak,
                "baseline_rss_mb": base,
                "seconds": secs,
                "store_mb": size,
                "chunk": chunk or tangent_chunk(k, 3072),
                "basis_shape": list(shape),
            }
        )
    )


if __name__ == "__main__":
    main()
