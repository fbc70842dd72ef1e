"""Helpers shared by the benchmark scripts: timing with CUDA sync, a plain-text table, and
a process's peak resident memory."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from pipeline_lib.device import pick_device, set_threads


def vm_hwm_mb() -> float:
    """This process's peak resident memory in MB (VmHWM: ru_maxrss would include the
    parent's peak inherited through fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def timed(
    fn: Callable[[], object], repeats: int, device: torch.device
) -> tuple[float, float, object]:
    """(median s, best s, last result) of ``repeats`` calls after one warm-up call."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    out = fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, tuple[float, float, object]]:
    """Like :func:`timed` for several functions, their calls interleaved round-robin
    (one warm-up each), so a slow phase of a shared machine hits all of them alike.
    Returns name -> (median s, best s, last result)."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    out = {name: fn() for name, fn in fns.items()}
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            out[name] = fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {n: (statistics.median(t), min(t), out[n]) for n, t in times.items()}


def table(header: list[str], rows: list[list[str]], left: int = 1) -> None:
    """Print ``rows`` under ``header``; the first ``left`` columns left-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        cells = zip(r, widths, strict=True)
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(cells))

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))


def setup(device: str, threads: int | None) -> tuple[torch.device, str]:
    """Apply ``--threads`` and pick ``--device``; returns the device and its name."""
    if threads is not None:
        set_threads(threads)
    dev = pick_device(device)
    return dev, torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
