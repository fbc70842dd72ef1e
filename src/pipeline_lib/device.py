"""Device choice and thread settings shared by every torch-using step."""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_limits


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` fails clearly without a GPU."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device 'cuda' but torch sees no CUDA device")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def set_threads(threads: int) -> None:
    """Make torch use exactly the cores Snakemake granted the job."""
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    threadpool_limits(threads)  # NumPy/SciPy's BLAS and OpenMP pools too
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # already set once in this process; intra-op threads are what matters
