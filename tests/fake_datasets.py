"""Tiny stand-ins for the datasets this machine cannot download, in their real file
formats, for the real loading code: MNIST-style IDX files and CIFAR-10's python pickles.
With ``structured`` the images carry their class (a bright band whose position is the
class, on noise), so small models learn them and attacks have correct points to start
from; otherwise they are noise with the label tagged in one pixel.

Used by tests/test_natural.py, tests/test_paper_smoke.py and benchmarks/gpu_check.py
(``python tests/fake_datasets.py DIR`` writes ``DIR/mnist`` and ``DIR/cifar10``).
"""

from __future__ import annotations

import gzip
import pickle
import struct
import sys
from pathlib import Path

import numpy as np


def _idx_images(arr: np.ndarray) -> bytes:
    n, h, w = arr.shape
    return struct.pack(">IIII", 0x00000803, n, h, w) + arr.astype(np.uint8).tobytes()


def _idx_labels(arr: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(arr)) + arr.astype(np.uint8).tobytes()


def _images(rng, labels: np.ndarray, shape: tuple[int, ...], structured: bool) -> np.ndarray:
    """uint8 images (n, *shape) whose last two axes are rows and columns."""
    n = len(labels)
    if not structured:
        return rng.integers(0, 256, size=(n, *shape))
    img = rng.normal(60, 25, size=(n, *shape))
    rows = shape[-2]
    band = max(1, rows // 12)
    for i, c in enumerate(labels):
        r = 1 + int(c) * band
        img[i, ..., r : r + band, 2:-2] += 150
    return np.clip(img, 0, 255)


def write_idx(folder, n_train=40, n_test=20, gz=True, seed=0, n_classes=10, structured=False):
    """MNIST-style IDX files (train-*/t10k-*, images and labels, gzipped or not)."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % n_classes
        images = _images(rng, labels, (28, 28), structured)
        images[:, 0, 0] = labels  # a tag to check labels stay with their images
        for name, blob in (
            (f"{prefix}-images-idx3-ubyte", _idx_images(images)),
            (f"{prefix}-labels-idx1-ubyte", _idx_labels(labels)),
        ):
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (folder / name).write_bytes(blob)
    return folder


def write_cifar(folder, n_per_batch=10, seed=0, structured=False):
    """CIFAR-10's ``cifar-10-batches-py`` folder: five training batches, one test batch
    and the meta file, as torchvision reads them."""
    rng = np.random.default_rng(seed)
    base = Path(folder) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = np.arange(n_per_batch) % 10
        data = _images(rng, labels, (3, 32, 32), structured).astype(np.uint8).reshape(-1, 3072)
        with open(base / name, "wb") as fh:
            pickle.dump({"data": data, "labels": [int(c) for c in labels]}, fh)
    with open(base / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": ["airplane", "automobile"] + [f"c{i}" for i in range(8)]}, fh)
    return Path(folder)


def write_smoke_data(root) -> None:
    """The files config/paper_smoke.yaml reads: ``<root>/mnist`` and ``<root>/cifar10``."""
    root = Path(root)
    write_idx(root / "mnist", n_train=200, n_test=100, structured=True)
    write_cifar(root / "cifar10", n_per_batch=200, structured=True)


if __name__ == "__main__":
    write_smoke_data(sys.argv[1] if len(sys.argv) > 1 else "data/smoke")
