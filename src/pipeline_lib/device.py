"""Device choice and thread settings shared by every torch-using step, and the GPU
slot each job of a multi-GPU machine takes. torch is imported only where a function
needs it: a job that never touches torch (a figure, a summary, the ledger) does not pay
its ~2 s import."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    import torch

# the thread pools a job's libraries size from the environment when they load (torch's
# OpenMP and MKL, NumPy's BLAS), set before they do
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# where the driver lists the GPUs (read without initialising CUDA, which would fix the
# visible devices before a job has chosen its own)
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")
_HELD: list = []  # open lock files of the slots this process holds (released at exit)


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` fails clearly without a GPU."""
    import torch

    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device 'cuda' but torch sees no CUDA device")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def set_threads(threads: int) -> int:
    """Make torch use exactly the cores Snakemake granted the job: set now where torch is
    loaded, and through the environment where it is not (torch sizes its pool from
    ``OMP_NUM_THREADS`` when it loads). Returns torch's thread count."""
    threads = max(1, int(threads))
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    threadpool_limits(threads)  # NumPy/SciPy's BLAS and OpenMP pools too
    torch = sys.modules.get("torch")
    if torch is None:
        return threads
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # already set once in this process; intra-op threads are what matters
    return torch.get_num_threads()


def gpu_count(proc: Path = NVIDIA_PROC) -> int:
    """GPUs the NVIDIA driver lists, without initialising CUDA (0 without the driver)."""
    return len(list(proc.iterdir())) if proc.is_dir() else 0


def claim_gpu_slot(n_gpus: int, lock_dir: str | os.PathLike) -> int | None:
    """The lowest GPU slot in ``0 .. n_gpus - 1`` no other live process holds, held by
    this process until it exits (an exclusive ``flock`` on ``lock_dir/gpu<i>.lock``: a
    killed job frees its slot with it); None when all are taken (Snakemake's ``gpu``
    resource should not let that happen)."""
    d = Path(lock_dir)
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n_gpus):
        f = open(d / f"gpu{i}.lock", "a")  # noqa: SIM115 (held open on purpose)
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        _HELD.append(f)
        return i
    return None


def assign_gpu(
    wants_gpu: bool, lock_dir: str | os.PathLike, n_gpus: int | None = None, environ=None
) -> int | None:
    """Give a GPU job its own device on a machine with several: set
    ``CUDA_VISIBLE_DEVICES`` to the slot it claims (so ``cuda`` is that GPU), before CUDA
    is initialised. Nothing happens for a CPU job, with fewer than two GPUs, or when
    ``CUDA_VISIBLE_DEVICES`` is already set (the user's or a scheduler's choice).
    Returns the slot, or None."""
    env = os.environ if environ is None else environ
    n = gpu_count() if n_gpus is None else n_gpus
    if not wants_gpu or n < 2 or env.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    slot = claim_gpu_slot(n, lock_dir)
    if slot is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(slot)
    return slot


def release_gpu_slots() -> None:
    """Free every slot this process holds (a job's slot is otherwise freed at exit)."""
    while _HELD:
        _HELD.pop().close()
