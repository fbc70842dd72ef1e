"""Natural-image datasets through torchvision's dataset classes.

Files are looked for in the configured ``data_dir``, then in the standard places
(:mod:`pipeline_lib.datafiles`: Debian's ``dataset-fashion-mnist`` package for
Fashion-MNIST, ``data/<name>``), and downloaded by torchvision only when the config
allows it. A missing or broken dataset stops with a message that says what was looked
for and how to get it. ImageNet is read from torchvision's ImageFolder layout (only the
configured classes' folders are scanned), resized and centre-cropped.
"""

from __future__ import annotations

import gzip
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from torchvision import datasets as tvd
from torchvision import transforms as tvt

from .datafiles import IDX_FILES, SOURCES, candidates, find_idx, has_files, missing_message
from .zarr_io import var

__all__ = ["IDX_FILES", "DatasetError", "SPECS", "load_arrays", "make_natural_dataset"]


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or too small for the configured request."""


class _LocalCIFAR10(tvd.CIFAR10):
    """torchvision's CIFAR10 reader; local files are checked for presence (their
    content is validated by unpickling), the download path keeps the MD5 check."""

    def _check_integrity(self) -> bool:  # noqa: D401 - torchvision hook
        base = Path(self.root) / self.base_folder
        return all((base / name).is_file() for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        path = Path(self.root) / self.base_folder / self.meta["filename"]
        if not path.is_file():
            raise RuntimeError(f"CIFAR-10 metadata file {path} is missing")
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class _SomeClassesFolder(tvd.ImageFolder):
    """torchvision's ImageFolder that scans only the folders of ``keep`` (class indices
    = positions among all class folders, sorted, as torchvision's ImageNet numbers them)."""

    def __init__(self, root, keep, transform):
        self._keep = [int(c) for c in keep]
        super().__init__(root, transform=transform)

    def find_classes(self, directory):
        folders = sorted(e.name for e in Path(directory).iterdir() if e.is_dir())
        bad = [c for c in self._keep if c >= len(folders)]
        if bad:
            raise DatasetError(
                f"classes {bad} requested but {directory} holds {len(folders)} class folders"
            )
        self.all_folders = folders
        return folders, {folders[c]: c for c in self._keep}


def _imagenet_categories() -> tuple[str, ...]:
    # the 1000 class names torchvision ships with its weights' metadata (no download)
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


@dataclass(frozen=True)
class NaturalSpec:
    name: str
    tv_class: type
    classes: tuple[str, ...]
    shape: tuple[int, int, int]

    @property
    def title(self) -> str:
        return SOURCES[self.name].title

    @property
    def folder(self) -> str:
        return SOURCES[self.name].folder

    @property
    def kind(self) -> str:
        return SOURCES[self.name].kind

    @property
    def how_to_get(self) -> str:
        return SOURCES[self.name].how_to_get


SPECS: dict[str, NaturalSpec] = {
    "fashion_mnist": NaturalSpec(
        "fashion_mnist",
        tvd.FashionMNIST,
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        (1, 28, 28),
    ),
    "mnist": NaturalSpec("mnist", tvd.MNIST, tuple(str(i) for i in range(10)), (1, 28, 28)),
    "cifar10": NaturalSpec(
        "cifar10",
        _LocalCIFAR10,
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        (3, 32, 32),
    ),
    # classes: filled from torchvision's metadata on first use (see _spec)
    "imagenet": NaturalSpec("imagenet", _SomeClassesFolder, (), (3, 224, 224)),
}


def _spec(name: str, image_size: int | None = None) -> NaturalSpec:
    spec = SPECS[name]
    if spec.kind != "imagefolder":
        return spec
    size = image_size or spec.shape[1]
    return NaturalSpec(name, spec.tv_class, _imagenet_categories(), (3, size, size))


def _stage_idx(files: dict[str, Path], root: Path, folder: str) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        dst = raw / name
        if dst.exists():
            dst.unlink()
        try:
            if src.suffix == ".gz":
                with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                dst.symlink_to(src.resolve())
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise DatasetError(
                f"cannot read {src}: {exc}; the file is truncated or corrupt"
            ) from exc


def load_arrays(
    name: str, data_dir: str | None, download: bool, cache_dir: str | Path
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Full train and test splits as uint8 arrays (N, C, H, W) and int64 labels."""
    if name not in SPECS:
        raise DatasetError(f"unknown dataset {name!r}; allowed: {sorted(SPECS)}")
    spec = SPECS[name]
    cache_dir = Path(cache_dir)
    looked = candidates(name, data_dir)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DatasetError(
            f"{spec.title}: natural.{name}.data_dir = {data_dir!r} is not a directory; "
            f"to get the data: {spec.how_to_get}"
        )
    root = None
    staged = None
    for cand in looked:
        if spec.kind == "idx":
            files = find_idx(cand, spec.folder)
            if files is not None:
                # torchvision wants uncompressed files under <root>/<Folder>/raw: stage
                # them in a temporary folder that is removed once the arrays are read
                cache_dir.mkdir(parents=True, exist_ok=True)
                root = staged = Path(tempfile.mkdtemp(prefix="staged-", dir=cache_dir))
                try:
                    _stage_idx(files, root, spec.folder)
                except DatasetError:
                    shutil.rmtree(staged, ignore_errors=True)
                    raise
                break
        elif has_files(name, cand):
            root = cand
            break
    if root is None:
        if not download:
            raise DatasetError(
                f"{spec.title} not found (looked in: {', '.join(map(str, looked))}). "
                f"To get it: {spec.how_to_get}"
            )
        root = cache_dir / "download"
    try:
        return _read_splits(spec, root, download and root == cache_dir / "download")
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)


def _read_splits(spec: NaturalSpec, root: Path, download: bool) -> dict:
    out = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = spec.tv_class(str(root), train=train, download=download)
        except Exception as exc:  # format asserts, short reads, unpickling errors, ...
            raise DatasetError(
                f"{spec.title} ({split} split) could not be read from {root}: "
                f"{type(exc).__name__}: {exc or 'format check failed'}. The files are truncated, "
                f"corrupt or not in the expected format. To get good files: {spec.how_to_get}"
            ) from exc
        images = np.asarray(ds.data)
        labels = np.asarray(ds.targets, dtype=np.int64)
        if images.ndim == 3:
            images = images[:, None]
        else:  # CIFAR: N, H, W, C
            images = images.transpose(0, 3, 1, 2)
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{spec.title} ({split}): {images.shape[0]} images but {labels.shape[0]} labels; "
                f"the image and label files do not belong together. To get good files: "
                f"{spec.how_to_get}"
            )
        if images.shape[1:] != spec.shape:
            raise DatasetError(
                f"{spec.title} ({split}): images have shape {images.shape[1:]}, expected "
                f"{spec.shape}. To get good files: {spec.how_to_get}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise DatasetError(
                f"{spec.title} ({split}): labels outside 0..{len(spec.classes) - 1}; the label "
                f"file is corrupt. To get good files: {spec.how_to_get}"
            )
        out[split] = (images, labels)
    return out


def _folder_parts(spec: NaturalSpec, data_dir: str | None, classes, resize: int) -> dict:
    """Per split, a reader of uint8 images (N, 3, S, S) by index and the labels, from the
    ImageFolder layout (train/, val/ as the test split); only ``classes``' folders are
    scanned, and only the images asked for are decoded."""
    missing = missing_message(spec.name, data_dir)
    if missing is not None:
        raise DatasetError(missing)
    root = next(d for d in candidates(spec.name, data_dir) if has_files(spec.name, d))
    size = spec.shape[1]
    tf = tvt.Compose([tvt.Resize(resize), tvt.CenterCrop(size)])
    out = {}
    for part, sub in (("train", "train"), ("test", "val")):
        try:
            ds = _SomeClassesFolder(root / sub, classes, tf)
        except (FileNotFoundError, DatasetError) as exc:
            raise DatasetError(f"{spec.title} ({part} split, {root / sub}): {exc}") from None

        def read(idx, ds=ds, part=part):
            out = np.empty((len(idx), 3, size, size), dtype=np.uint8)
            for j, i in enumerate(idx):
                try:
                    img = ds[int(i)][0].convert("RGB")
                except OSError as exc:
                    raise DatasetError(
                        f"{spec.title} ({part}): cannot decode {ds.samples[int(i)][0]}: {exc}"
                    ) from None
                out[j] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
            return out

        out[part] = (read, np.asarray(ds.targets, dtype=np.int64))
    return out


def stratified_subset(labels: np.ndarray, classes: list[int], n: int, rng) -> np.ndarray:
    """Indices of ``n`` samples from ``classes``, as equal per class as possible."""
    per = np.full(len(classes), n // len(classes))
    per[: n % len(classes)] += 1
    idx = []
    for c, want in zip(classes, per, strict=True):
        have = np.flatnonzero(labels == c)
        if want > len(have):
            raise DatasetError(
                f"class {c} has {len(have)} samples but {want} were requested; lower "
                "n_train/n_test or add classes"
            )
        idx.append(rng.choice(have, size=want, replace=False))
    return np.sort(np.concatenate(idx))


def make_natural_dataset(
    name: str,
    classes: list[int],
    n_train: int,
    n_test: int,
    seed: int,
    data_dir: str | None,
    download: bool,
    cache_dir: str | Path,
    image_size: int | None = None,
    resize: int | None = None,
) -> xr.Dataset:
    """A seeded stratified subset of ``classes`` as a labelled store. ``image_size`` and
    ``resize`` (ImageNet only): the centre crop's side and the shorter side it is taken
    from (torchvision's Resize + CenterCrop; the paper's 224 from 256)."""
    spec = _spec(name, image_size)
    bad = [c for c in classes if not 0 <= c < len(spec.classes)]
    if bad:
        raise DatasetError(f"{spec.title} has classes 0..{len(spec.classes) - 1}; got {bad}")
    rng = np.random.default_rng(seed)
    imgs, labs, split = [], [], []
    if spec.kind == "imagefolder":
        parts = _folder_parts(spec, data_dir, classes, resize or spec.shape[1])
    else:
        arrays = load_arrays(name, data_dir, download, cache_dir)
        parts = {k: (lambda idx, a=a: a[0][idx], a[1]) for k, a in arrays.items()}
    for part, n in (("train", n_train), ("test", n_test)):
        read, labels = parts[part]
        try:
            idx = stratified_subset(labels, classes, n, rng)
        except DatasetError as exc:
            raise DatasetError(f"{spec.title} {part} split: {exc}") from None
        imgs.append(read(idx))
        labs.append(labels[idx])
        split.append(np.full(len(idx), part))
    images = np.concatenate(imgs).astype(np.float32) / 255.0
    c, h, w = spec.shape
    return xr.Dataset(
        {
            "image": var(
                images, ("sample", "channel", "row", "col"), "pixel intensity", units="[0,1]"
            ),
            "label": var(np.concatenate(labs), ("sample",), "class index (original numbering)"),
        },
        coords={
            "sample": np.arange(images.shape[0]),
            "split": ("sample", np.concatenate(split).astype("U5")),
            "channel": np.arange(c),
            "row": np.arange(h),
            "col": np.arange(w),
            "class_index": ("class_index", np.asarray(classes)),
            "class_name": ("class_index", np.asarray([spec.classes[i] for i in classes])),
        },
        attrs={"dataset": name, "title": spec.title, "n_features": c * h * w},
    )


def binary_split(ds: xr.Dataset, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two classes of a prepared dataset as flat float64 arrays with labels -1 / +1.

    ``classes = (a, b)`` are original class indices: ``a`` -> -1, ``b`` -> +1. Returns
    ``(x_train, y_train, x_test, y_test)``, images flattened to ``channel * row * col``
    features in dataset order (no shuffling). Raises :class:`DatasetError` when a class
    is not in the store or a split has no image of one of them.
    """
    a, b = (int(c) for c in classes)
    if a == b:
        raise DatasetError(f"need two different classes, got {list(classes)}")
    have = [int(c) for c in ds.class_index.values]
    missing = [c for c in (a, b) if c not in have]
    if missing:
        raise DatasetError(
            f"classes {missing} are not in the prepared {ds.attrs.get('dataset', 'dataset')} "
            f"store (it has {have}); add them to natural.<dataset>.classes"
        )
    labels = ds.label.values
    split = ds.split.values
    out = []
    for part in ("train", "test"):
        sel = (split == part) & np.isin(labels, (a, b))
        for c in (a, b):
            if not np.any(sel & (labels == c)):
                raise DatasetError(f"the {part} split has no image of class {c}")
        x = np.asarray(ds.image.values[sel], dtype=np.float64).reshape(int(sel.sum()), -1)
        y = np.where(labels[sel] == b, 1.0, -1.0)
        out += [x, y]
    return out[0], out[1], out[2], out[3]
