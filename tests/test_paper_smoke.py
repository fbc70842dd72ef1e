"""config/paper.yaml in miniature (config/paper_smoke.yaml): the paper's whole DAG runs on
this CPU, on tiny MNIST, CIFAR-10 and ImageNet files this test writes in their real
formats (and the real Fashion-MNIST, shrunk), with config/paper_imagenet.yaml's ImageNet
path and a ResNet-50 state dict the test saves.

* The jobs are exactly those `snakemake -n` lists for config/paper.yaml: the same rules
  with the same wildcards (only sizes differ), the streamed Squiggles training set (no
  train store) included.
* What runs (make test-long) adds config/paper_smoke_two_seeds.yaml: the paper's jobs on
  seeds 0 and 1, exactly, which is every rule with every non-seed wildcard of the
  paper's DAG (2 cores cannot run all 649 jobs within CI's time).
* The run completes: every store follows the Zarr contract (description, provenance),
  every checkpoint loads with weights only, and the ledger judges the paper's claims.
"""

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import xarray as xr
from e2e import copy_workflow
from fake_datasets import write_smoke_data

from pipeline_lib import checkpoints

pytestmark = pytest.mark.slow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
PAPER = ("--configfile", "config/paper.yaml", "config/paper_imagenet.yaml")
SMOKE = (*PAPER, "config/paper_smoke.yaml")
TWO_SEEDS = (*SMOKE, "config/paper_smoke_two_seeds.yaml")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def smk(wd: Path, *args: str) -> str:
    res = subprocess.run([SNAKEMAKE, *args], cwd=wd, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} failed:\n{res.stdout[-5000:]}\n{res.stderr[-5000:]}"
        )
    return res.stdout + res.stderr


def jobs(output: str) -> Counter:
    """(rule, sorted wildcards) of every job a dry run lists, counted."""
    out = Counter()
    for block in re.split(r"\n\s*\n", output):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not m:
            continue
        wc = re.search(r"^\s+wildcards: (.+)$", block, re.M)
        out[(m.group(1), tuple(sorted(wc.group(1).split(", "))) if wc else ())] += 1
    return out


def seeded(job: tuple, seeds: set[str]) -> bool:
    """Whether a job (rule, wildcards) runs one of these seeds."""
    return any(w.split("=", 1) == ["seed", s] for w in job[1] for s in seeds)


def unseeded(job: tuple) -> tuple:
    """The job without its seed: its rule and its other wildcards."""
    return job[0], tuple(w for w in job[1] if not w.startswith("seed="))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, root):
    if not DEBIAN_FASHION.exists():
        pytest.skip("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed")
    wd = copy_workflow(root, tmp_path_factory.mktemp("paper_smoke"))
    write_smoke_data(wd / "data" / "smoke")
    out = smk(wd, "--cores", "2", "figures/", *TWO_SEEDS)
    return wd, out


def test_smoke_plans_the_paper_dag(tmp_path, root):
    wd = copy_workflow(root, tmp_path / "wf")
    write_smoke_data(wd / "data" / "smoke")
    # the paper's ImageNet weights file, as the pretrained classifier's job input
    (wd / "data" / "imagenet").mkdir(parents=True)
    (wd / "data" / "imagenet" / "resnet50.pth").write_bytes(b"")
    paper = jobs(smk(wd, "-n", "figures/", *PAPER))
    small = jobs(smk(wd, "-n", "figures/", *SMOKE))
    assert sum(paper.values()) > 400
    assert small == paper, (
        sorted(set(small) - set(paper))[:10],
        sorted(set(paper) - set(small))[:10],
    )
    # what CI runs: the paper's jobs on seeds 0 and 1 exactly (nothing more, nothing less),
    # which is every rule with every non-seed wildcard of the paper's DAG
    two = jobs(smk(wd, "-n", "figures/", *TWO_SEEDS))
    first_two = Counter({j: n for j, n in paper.items() if not seeded(j, {"2", "3", "4"})})
    assert two == first_two, (
        sorted(set(two) - set(first_two))[:10],
        sorted(set(first_two) - set(two))[:10],
    )
    assert {unseeded(j) for j in two} == {unseeded(j) for j in paper}
    assert {"seed=0", "seed=1"} <= {w for _, ws in two for w in ws}
    assert sum(two.values()) < 0.6 * sum(paper.values())
    rules = {r for r, _ in paper}
    # the paper's paths: three datasets with the CIFAR-10 VGG autoencoder, MNIST shells
    # with the CW shell and the delta sweep, ResNet-34 Squiggles on streamed curves
    assert ("dataset=cifar10",) in {w for r, w in paper if r == "dmm_autoencoder"}
    assert {"dmm_autoencoder", "shells_evaluate", "squiggles_train", "tilting_bootstrap"} <= rules
    datasets = {w for r, w in paper if r == "squiggles_dataset"}
    assert datasets == {("split=test", "variant=sinenet"), ("split=test", "variant=taylor")}
    # 10-class CIFAR-10: the shells with their adversarially trained ResNet base, Fig. 6
    # with ResNet-50 (the architecture ablation); ImageNet with its pretrained classifier
    assert ("base=linf_adv", "dataset=cifar10", "seed=0") in {
        w for r, w in paper if r == "shells_base"
    }
    assert ("arch=resnet", "dataset=cifar10", "seed=0") in {
        w for r, w in paper if r == "dmm_ablation_distance"
    }
    assert paper[("dmm_pretrained", ("dataset=imagenet",))] == 1
    assert paper[("dmm_attacks", ("dataset=imagenet", "seed=0", "variant=pretrained"))] == 1
    assert not {w for r, w in paper if r == "dmm_classifier" and "dataset=imagenet" in w}


@pytest.mark.long
def test_smoke_run_completes_with_contract_and_verdicts(smoke):
    wd, out = smoke
    stores = sorted((wd / "results").rglob("*.zarr"))
    assert len(stores) > 250
    for p in stores:
        ds = xr.open_zarr(p)
        assert ds.attrs["description"], p
        prov = ds.attrs["provenance"]
        assert prov["config"] and prov["git_commit"] and prov["device"] == "cpu", p
        for name, v in ds.data_vars.items():
            assert v.attrs.get("description"), (p, name)
    for p in sorted((wd / "results").rglob("*.pt")):
        assert checkpoints.load(p)["provenance"]["config"], p
    # the paper's datasets were read from the tiny files, at the smoke's sizes
    for name, n in (("mnist", 160), ("cifar10", 300), ("imagenet", 40)):
        ds = xr.open_zarr(wd / "results" / "data" / f"{name}.zarr")
        assert ds.sizes["sample"] == n, name
    cifar = xr.open_zarr(wd / "results/dmm/cifar10/clean/seed0/training.zarr")
    assert cifar.attrs["provenance"]["config"]["cfg"]["kind"] == "convnet"
    assert cifar.attrs["n_classes"] == 10
    # the manifold model and the attacked images: CIFAR-10's plane and car only, under
    # the 10-class classifier, whose adversarial classes may be any of the ten
    data = xr.open_zarr(wd / "results/data/cifar10.zarr")
    label = dict(zip(data.sample.values, data.label.values, strict=True))
    tangents = xr.open_zarr(wd / "results/dmm/cifar10/tangents.zarr")
    assert {label[s] for s in tangents.sample.values} <= {0, 1}
    ae = xr.open_zarr(wd / "results/dmm/cifar10/autoencoder.zarr")
    assert {label[s] for s in ae.sample.values} == {0, 1}
    resnet = checkpoints.load(wd / "results/shells/cifar10/linf_adv/seed0/model.pt")
    assert resnet["kind"] == "resnet" and resnet["kwargs"]["depth"] == 50
    # ImageNet: the pretrained ResNet-50 read from the local file, its attacks and metrics
    pre = checkpoints.load(wd / "results/dmm/imagenet/pretrained/seed0/model.pt")
    assert pre["kind"] == "pretrained_resnet" and pre["kwargs"]["n_out"] == 1000
    metrics = json.loads((wd / "results/dmm/imagenet/metrics.json").read_text())
    assert metrics["dmm_natural/imagenet-pretrained/analysed_images"]["mean"] >= 1
    sq = xr.open_zarr(wd / "results/squiggles/sinenet/sigma0/seed0/training.zarr")
    assert sq.attrs["streamed"] and sq.attrs["n_train"] == 256
    claims = json.loads((wd / "results/claims/claims.json").read_text())
    verdicts = Counter(c["verdict"] for c in claims["claims"])
    assert sum(verdicts.values()) > 100 and set(verdicts) - {"not testable here"}, verdicts
    assert (wd / "figures").is_dir() and len(list((wd / "figures").rglob("*.png"))) > 80
    # no resume state is left behind: every training job succeeded
    assert not list((wd / ".snakemake" / "resume").rglob("*.pt"))
