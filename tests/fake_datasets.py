"""Tiny stand-ins for the datasets this machine cannot download, in their real file
formats, for the real loading code: MNIST-style IDX files, CIFAR-10's python pickles and
an ImageNet-style image folder (with a ResNet state dict that classifies it).
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
    colour = len(shape) == 3 and shape[0] == 3
    for i, c in enumerate(labels):
        r = 1 + int(c) * band
        if colour:  # a band of its own colour and thickness: seen through global pooling too
            img[i, int(c) % 3, r : r + band * (1 + int(c) // 3), 2:-2] += 150
        else:
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


def write_imagenet(folder, n_classes=3, n_train=8, n_val=4, size=(80, 72), seed=0, structured=True):
    """An ImageNet-style folder (torchvision's ImageFolder layout): ``train/<wnid>/`` and
    ``val/<wnid>/`` with ``n_classes`` fake WordNet ids sorted in class order, JPEG
    images of ``size`` (width, height), each class a band at its own height."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    w, h = size
    for part, n in (("train", n_train), ("val", n_val)):
        for c in range(n_classes):
            d = folder / part / f"n{c:08d}"
            d.mkdir(parents=True, exist_ok=True)
            img = _images(rng, np.full(n, c), (3, h, w), structured).astype(np.uint8)
            for i in range(n):
                Image.fromarray(img[i].transpose(1, 2, 0)).save(d / f"img_{c}_{i}.JPEG")
    return folder


def write_resnet_weights(
    path, images_dir, classes=(1, 2), depth=50, size=64, resize=64, seed=0, steps=300
):
    """A torchvision ResNet state dict, randomly initialised (seeded) except for its last
    layer: a linear probe on the network's random features of ``images_dir/train`` that
    tells ``classes`` apart (every other class's bias far below), so a "pretrained"
    classifier classifies the fake images and the attacks have correct points."""
    import torch
    from torchvision import datasets as tvd
    from torchvision import models as tvm
    from torchvision import transforms as tvt

    torch.manual_seed(seed)
    net = getattr(tvm, f"resnet{depth}")(weights=None).eval()
    tf = tvt.Compose([tvt.Resize(resize), tvt.CenterCrop(size), tvt.ToTensor()])
    ds = tvd.ImageFolder(Path(images_dir) / "train", transform=tf)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.as_tensor(ds.targets)
    keep = torch.isin(y, torch.as_tensor(classes))
    x, y = x[keep], y[keep]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    fc = net.fc
    net.fc = torch.nn.Identity()
    with torch.no_grad():
        feats = net((x - mean) / std)
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    feats = (feats - mu) / sd
    probe = torch.nn.Linear(feats.shape[1], len(classes))
    opt = torch.optim.Adam(probe.parameters(), lr=0.01)
    target = torch.searchsorted(torch.as_tensor(sorted(classes)), y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(probe(feats), target).backward()
        opt.step()
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.fill_(-1e3)
        for j, c in enumerate(sorted(classes)):
            fc.weight[c] = probe.weight[j] / sd
            fc.bias[c] = probe.bias[j] - (probe.weight[j] * mu / sd).sum()
    net.fc = fc
    torch.save(net.state_dict(), path)
    return path


def write_smoke_data(root) -> None:
    """The files config/paper_smoke.yaml and config/paper_imagenet.yaml read:
    ``<root>/mnist``, ``<root>/cifar10`` and ``<root>/imagenet`` (with the classifier's
    weights ``<root>/imagenet/resnet50.pth``)."""
    root = Path(root)
    write_idx(root / "mnist", n_train=200, n_test=100, structured=True)
    write_cifar(root / "cifar10", n_per_batch=200, structured=True)
    write_imagenet(root / "imagenet", n_classes=3, n_train=12, n_val=8)
    write_resnet_weights(root / "imagenet" / "resnet50.pth", root / "imagenet")


if __name__ == "__main__":
    write_smoke_data(sys.argv[1] if len(sys.argv) > 1 else "data/smoke")
