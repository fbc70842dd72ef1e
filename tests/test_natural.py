"""Natural-image loading through torchvision, on small files the tests write."""

import numpy as np
import pytest
from fake_datasets import _idx_labels, write_cifar, write_idx

from pipeline_lib.natural import DatasetError, load_arrays, make_natural_dataset


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_idx_loading_and_subset(tmp_path, name, gz):
    d = write_idx(tmp_path / "raw", gz=gz)
    ds = make_natural_dataset(name, [1, 3, 4], 9, 6, 0, str(d), False, tmp_path / "cache")
    assert ds.image.dims == ("sample", "channel", "row", "col")
    assert ds.image.shape == (15, 1, 28, 28)
    split = ds.split.values
    assert (split == "train").sum() == 9 and (split == "test").sum() == 6
    labels = ds.label.values
    assert set(labels) == {1, 3, 4}
    assert np.bincount(labels[split == "train"], minlength=5)[[1, 3, 4]].tolist() == [3, 3, 3]
    tag = np.rint(ds.image.values[:, 0, 0, 0] * 255).astype(int)
    np.testing.assert_array_equal(tag, labels)
    assert 0.0 <= ds.image.values.min() and ds.image.values.max() <= 1.0
    again = make_natural_dataset(name, [1, 3, 4], 9, 6, 0, str(d), False, tmp_path / "c2")
    np.testing.assert_array_equal(ds.image.values, again.image.values)
    assert list((tmp_path / "cache").iterdir()) == []  # staged copies are removed


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist") as exc:
        load_arrays("fashion_mnist", str(tmp_path), False, tmp_path / "cache")
    assert "download: true" in str(exc.value)
    with pytest.raises(DatasetError, match="not a directory"):
        load_arrays("mnist", str(tmp_path / "nope"), False, tmp_path / "cache")
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_arrays("cifar10", None, False, tmp_path / "cache")


def test_truncated_file(tmp_path):
    d = write_idx(tmp_path / "raw", gz=False)
    f = d / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="truncated, corrupt"):
        load_arrays("mnist", str(d), False, tmp_path / "cache")


def test_corrupt_gzip(tmp_path):
    d = write_idx(tmp_path / "raw", gz=True)
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not a gzip file at all")
    with pytest.raises(DatasetError, match="corrupt"):
        load_arrays("mnist", str(d), False, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_label_image_count_mismatch(tmp_path):
    d = write_idx(tmp_path / "raw", gz=False)
    (d / "train-labels-idx1-ubyte").write_bytes(_idx_labels(np.zeros(7)))
    with pytest.raises(DatasetError, match="do not belong together"):
        load_arrays("mnist", str(d), False, tmp_path / "cache")


def test_too_few_samples(tmp_path):
    d = write_idx(tmp_path / "raw", n_train=20, n_test=10)
    with pytest.raises(DatasetError, match="class 0 has 2 samples but 5 were requested"):
        make_natural_dataset("mnist", [0, 1], 10, 4, 0, str(d), False, tmp_path / "cache")


def test_cifar10_through_torchvision(tmp_path):
    write_cifar(tmp_path / "cifar", n_per_batch=6)
    ds = make_natural_dataset(
        "cifar10", [0, 1], 4, 2, 0, str(tmp_path / "cifar"), False, tmp_path / "cache"
    )
    assert ds.image.shape == (6, 3, 32, 32)
    assert list(ds.class_name.values) == ["airplane", "automobile"]


def test_cifar10_corrupt_batch(tmp_path):
    write_cifar(tmp_path / "cifar", n_per_batch=6)
    (tmp_path / "cifar" / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x04junk")
    with pytest.raises(DatasetError, match="could not be read"):
        load_arrays("cifar10", str(tmp_path / "cifar"), False, tmp_path / "cache")


def test_debian_fashion_mnist_when_installed(tmp_path):
    from pathlib import Path

    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (make setup installs it)")
    arrays = load_arrays("fashion_mnist", None, False, tmp_path / "cache")
    assert arrays["train"][0].shape == (60000, 1, 28, 28)
    assert arrays["test"][0].shape == (10000, 1, 28, 28)
