"""Where each natural-image dataset's files are looked for, and what to do when they are
not there: the standard library only, so the Snakefile can check a config's datasets
before any job runs (``snakemake`` stops with the same message the ``natural_dataset``
job would give, without starting torch). :mod:`pipeline_lib.natural` reads the files
found here with torchvision's dataset classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True)
class Source:
    title: str
    kind: str  # idx | cifar | imagefolder
    folder: str  # torchvision's folder under a root (idx, cifar)
    standard_dirs: tuple[str, ...]
    how_to_get: str


SOURCES: dict[str, Source] = {
    "fashion_mnist": Source(
        "Fashion-MNIST",
        "idx",
        "FashionMNIST",
        ("/usr/share/datasets/fashion-mnist", "data/fashion_mnist"),
        "install Debian's package (apt-get install dataset-fashion-mnist, files land in "
        "/usr/share/datasets/fashion-mnist), or set natural.fashion_mnist.data_dir to a folder "
        "holding the four IDX files (train-images-idx3-ubyte[.gz], ...), or set "
        "natural.fashion_mnist.download: true to let torchvision download them",
    ),
    "mnist": Source(
        "MNIST",
        "idx",
        "MNIST",
        ("data/mnist",),
        "put the four IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) in data/mnist or in the "
        "folder named by natural.mnist.data_dir, or set natural.mnist.download: true",
    ),
    "cifar10": Source(
        "CIFAR-10",
        "cifar",
        "cifar-10-batches-py",
        ("data/cifar10",),
        "put the extracted 'cifar-10-batches-py' folder (from cifar-10-python.tar.gz) in "
        "data/cifar10 or in the folder named by natural.cifar10.data_dir, or set "
        "natural.cifar10.download: true",
    ),
    "imagenet": Source(
        "ImageNet",
        "imagefolder",
        "",
        ("data/imagenet",),
        "put ILSVRC-2012 in torchvision's ImageNet/ImageFolder layout in data/imagenet or in "
        "the folder named by natural.imagenet.data_dir: train/<wnid>/*.JPEG and "
        "val/<wnid>/*.JPEG, one folder per class named by its WordNet id (class index = "
        "position in the sorted folder names, as torchvision.datasets.ImageNet builds it; "
        "the val images sorted into class folders); ImageNet cannot be downloaded",
    ),
}


def find_idx(directory: Path, folder: str) -> dict[str, Path] | None:
    """The four IDX files (plain or .gz) in ``directory``, ``directory/<folder>/raw`` or
    ``directory/raw``; None where no one of these holds all four."""
    for base in (directory, directory / folder / "raw", directory / "raw"):
        found = {}
        for name in IDX_FILES:
            for cand in (base / name, base / f"{name}.gz"):
                if cand.is_file():
                    found[name] = cand
                    break
        if len(found) == len(IDX_FILES):
            return found
    return None


def candidates(name: str, data_dir: str | None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir)]
    return [Path(d) for d in SOURCES[name].standard_dirs]


def has_files(name: str, directory: Path) -> bool:
    """Whether ``directory`` holds dataset ``name``'s files (present, not yet read)."""
    src = SOURCES[name]
    if src.kind == "idx":
        return find_idx(directory, src.folder) is not None
    if src.kind == "cifar":
        return (directory / src.folder).is_dir()
    return all(
        (directory / part).is_dir() and any(p.is_dir() for p in (directory / part).iterdir())
        for part in ("train", "val")
    )


def missing_message(name: str, data_dir: str | None) -> str | None:
    """None where the dataset's files are found; else what was looked for and how to
    get them (the message the ``natural_dataset`` job stops with)."""
    if name not in SOURCES:
        return f"unknown dataset {name!r}; allowed: {sorted(SOURCES)}"
    src = SOURCES[name]
    if data_dir is not None and not Path(data_dir).is_dir():
        return (
            f"{src.title}: natural.{name}.data_dir = {data_dir!r} is not a directory; "
            f"to get the data: {src.how_to_get}"
        )
    looked = candidates(name, data_dir)
    if any(has_files(name, d) for d in looked):
        return None
    return (
        f"{src.title} not found (looked in: {', '.join(map(str, looked))}). "
        f"To get it: {src.how_to_get}"
    )


def config_problems(config: Mapping, store_exists) -> list[str]:
    """One message per dataset of ``natural.datasets`` whose store is still to be made
    (``store_exists(name)`` false), that may not be downloaded, and whose files are not
    found."""
    nat = config.get("natural", {})
    out = []
    for name in nat.get("datasets", []):
        spec = nat.get(name, {})
        if store_exists(name) or spec.get("download"):
            continue
        msg = missing_message(name, spec.get("data_dir"))
        if msg is not None:
            out.append(msg)
    dmm = config.get("dmm", {})
    for name in dmm.get("pretrained_datasets", []):
        weights = (dmm.get(name, {}).get("pretrained") or {}).get("weights")
        if weights and not Path(weights).is_file():
            out.append(
                f"the pretrained classifier of {name} (dmm.{name}.pretrained.weights) is not "
                f"at {weights}; save a torchvision ResNet state dict there, e.g. on a machine "
                "with internet access: torch.save(torchvision.models.resnet50("
                'weights="IMAGENET1K_V1").state_dict(), path)'
            )
    return out
