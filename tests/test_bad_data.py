"""Bad or missing data at the workflow level: the data rule fails with a message that
says what is wrong and how to fix it, and nothing downstream runs. Missing files stop
the run before its first job, with the same message.

(The loader's own checks are unit-tested in test_natural.py; here the whole path from
config to a failed Snakemake job is exercised, one small run per fault.)"""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from e2e import copy_workflow
from test_natural import _idx_labels, write_idx

pytestmark = pytest.mark.slow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# a job downstream of the natural dataset: it needs natural_dataset and nothing else
TARGET = "results/dmm/fashion_mnist/autoencoder.pt"


def _missing(raw: Path) -> None:
    raw.mkdir()


def _truncated(raw: Path) -> None:
    write_idx(raw, gz=False)
    f = raw / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:5000])


def _corrupt_archive(raw: Path) -> None:
    write_idx(raw, gz=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"x" * 64)[:30])


def _labels_do_not_match(raw: Path) -> None:
    write_idx(raw, gz=False)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx_labels(np.zeros(13)))


def _too_small(raw: Path) -> None:
    write_idx(raw, n_train=40, n_test=20)  # 4 training images per class; test.yaml wants 20


CASES = {
    "missing files": (
        _missing,
        ["Fashion-MNIST not found", "apt-get install dataset-fashion-mnist"],
    ),
    "truncated IDX": (_truncated, ["truncated, corrupt"]),
    "corrupt gzip archive": (_corrupt_archive, ["corrupt"]),
    "labels do not match images": (_labels_do_not_match, ["do not belong together"]),
    "dataset too small": (_too_small, ["class 0 has 4 samples but 20 were requested"]),
}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, root):
    return copy_workflow(root, tmp_path_factory.mktemp("bad_data"))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_fails_in_the_data_rule_only(workflow, tmp_path, case):
    make, messages = CASES[case]
    raw = tmp_path / "raw"
    make(raw)
    cfg = yaml.safe_load((workflow / "config" / "test.yaml").read_text())
    cfg["natural"]["fashion_mnist"]["data_dir"] = str(raw)
    cfg_path = tmp_path / "bad.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    wd = tmp_path / "wd"
    shutil.copytree(workflow, wd)
    res = subprocess.run(
        [SNAKEMAKE, "--cores", "1", TARGET, "--configfile", str(cfg_path)],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    if case == "missing files":  # known before any job: no job runs, not even the data rule
        assert "missing dataset files" in out and not (wd / "logs").exists(), out[-3000:]
        for msg in messages:
            assert msg in out, out[-3000:]
        assert not (wd / "results").exists()
        return
    assert "Error in rule natural_dataset" in out, out[-3000:]
    log = (wd / "logs/natural_dataset/fashion_mnist.log").read_text()
    assert "DatasetError" in log
    for msg in messages:
        assert msg in log, log[-3000:]
    # the data rule was the only job: no other log, no store, nothing downstream
    assert [p.relative_to(wd / "logs") for p in (wd / "logs").rglob("*.log")] == [
        Path("natural_dataset/fashion_mnist.log")
    ]
    assert not (wd / "results/data/fashion_mnist.zarr").exists()
    assert not (wd / "results/dmm").exists()
