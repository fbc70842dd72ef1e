"""The papers' settings that had no way to be expressed (issue 21 item 2): 10-class
CIFAR-10 with the manifold model on two of its classes, torchvision ResNets (Fig. 6's
ResNet-50, the shells' robust base), ImageNet from an ImageFolder tree with a pretrained
classifier read from a local file, and the missing-dataset error before any job runs."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from e2e import copy_workflow
from fake_datasets import write_imagenet, write_resnet_weights

from pipeline_lib import costs, datafiles
from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.models import (
    ClassSubset,
    PretrainedClassifier,
    TorchvisionResNet,
    VGGAutoencoder,
    build_model,
)
from pipeline_lib.natural import DatasetError, make_natural_dataset
from pipeline_lib.studies.dmm import checks as dmm_checks
from pipeline_lib.studies.dmm import registry as dmm_reg
from pipeline_lib.studies.dmm.experiment import (
    build_classifier,
    fit_autoencoder,
    manifold_subset,
    pretrained_classifier,
    split_head,
)

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
PRE = {"depth": 18, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    write_imagenet(root, n_classes=4, n_train=6, n_val=4, size=(48, 40))
    write_resnet_weights(root / "resnet18.pth", root, classes=(1, 2), depth=18, size=32, resize=32)
    return root


def _imagenet_store(root, **kw):
    args = dict(
        classes=[1, 2],
        n_train=8,
        n_test=6,
        seed=0,
        data_dir=str(root),
        download=False,
        cache_dir=root / "cache",
        image_size=32,
        resize=32,
    )
    return make_natural_dataset("imagenet", **{**args, **kw})


# ----------------------------------------------------------------------------- ImageNet


def test_imagenet_folder_reads_only_the_configured_classes(imagenet, tmp_path):
    ds = _imagenet_store(imagenet)
    assert dict(ds.sizes)["sample"] == 14 and ds.image.shape[1:] == (3, 32, 32)
    assert set(ds.label.values) == {1, 2}
    assert list(ds.class_name.values) == ["goldfish", "great white shark"]
    assert (ds.split.values == "test").sum() == 6
    # the folders of other classes are never scanned: a broken file there is not read
    bad = tmp_path / "im"
    write_imagenet(bad, n_classes=3, n_train=6, n_val=4, size=(40, 40))
    (bad / "train" / "n00000000" / "broken.JPEG").write_bytes(b"not a jpeg")
    assert set(_imagenet_store(bad).label.values) == {1, 2}
    (bad / "train" / "n00000001" / "broken.JPEG").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="cannot decode|cannot identify"):
        _imagenet_store(bad, n_train=12)


def test_imagenet_errors_name_what_to_do(imagenet, tmp_path):
    with pytest.raises(DatasetError, match="class folders"):
        _imagenet_store(imagenet, classes=[1, 7])
    with pytest.raises(DatasetError, match=r"train/<wnid>"):
        _imagenet_store(imagenet, data_dir=str(tmp_path))
    msg = datafiles.missing_message("imagenet", str(tmp_path))
    assert "ImageNet not found" in msg and "val/<wnid>" in msg
    assert datafiles.missing_message("imagenet", str(imagenet)) is None


def test_pretrained_classifier_keeps_torchvision_outputs(imagenet):
    from torchvision.models import resnet18

    ds = _imagenet_store(imagenet)
    model, kind, kwargs, acc = pretrained_classifier(
        ds, PRE, imagenet / "resnet18.pth", torch.device("cpu")
    )
    assert kind == "pretrained_resnet" and kwargs["n_out"] == 1000 and acc >= 0.5
    ref = resnet18()
    ref.load_state_dict(torch.load(imagenet / "resnet18.pth", weights_only=True))
    ref.eval()
    x = torch.as_tensor(ds.image.values[:3])
    mean = torch.tensor(PRE["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(PRE["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        full = ref((x - mean) / std)
        out = model(x)
    # positions 0, 1 are classes 1, 2; the rest follow in order; argmax means the same
    assert torch.allclose(out[:, :2], full[:, [1, 2]], atol=1e-4)
    assert torch.allclose(out[:, 2], full[:, 0], atol=1e-4)
    assert torch.allclose(out[:, 3:], full[:, 3:], atol=1e-4)
    # a rebuilt model from the saved kind and kwargs holds the same network
    again = build_model(kind, **kwargs)
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(again.eval()(x), out)


def test_pretrained_classifier_rejects_other_files(imagenet, tmp_path):
    ds = _imagenet_store(imagenet)
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvision ResNet state dict"):
        pretrained_classifier(ds, PRE, tmp_path / "other.pth", torch.device("cpu"))
    with pytest.raises(ValueError, match="does not fit|not a state dict"):
        pretrained_classifier(ds, {**PRE, "depth": 50}, imagenet / "resnet18.pth", "cpu")


# ----------------------------------------------------------------------------- models


def test_resnet_stems_and_shapes():
    small = TorchvisionResNet((3, 32, 32), 10, 18)
    assert small.net.conv1.kernel_size == (3, 3) and isinstance(
        small.net.maxpool, torch.nn.Identity
    )
    big = TorchvisionResNet((3, 64, 64), 10, 18)
    assert big.net.conv1.kernel_size == (7, 7)
    gray = TorchvisionResNet((1, 28, 28), 10, 18)
    assert gray(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="depth"):
        TorchvisionResNet((3, 32, 32), 10, 101)
    model, kind, kwargs = build_classifier({"kind": "resnet", "depth": 34}, (3, 32, 32), 10)
    assert kind == "resnet" and kwargs["depth"] == 34
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_narrow_resnets_scale_every_stage():
    full = TorchvisionResNet((3, 32, 32), 10, 50)
    narrow = TorchvisionResNet((3, 32, 32), 10, 50, width=8)
    assert narrow.net.conv1.out_channels == 8 and narrow.net.fc.in_features == 8 * 8 * 4
    n_full = sum(p.numel() for p in full.parameters())
    n_narrow = sum(p.numel() for p in narrow.parameters())
    assert 30 < n_full / n_narrow < 100  # channels / 8: parameters / ~64
    assert narrow(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    _, _, kwargs = build_classifier(
        {"kind": "resnet", "depth": 18, "base_width": 16}, (1, 28, 28), 10
    )
    assert kwargs["width"] == 16
    _, _, kwargs = build_classifier(
        {"kind": "resnet", "depth": 18, "base_width": 64}, (1, 28, 28), 10
    )
    assert "width" not in kwargs  # torchvision's own network: the kwargs as before


def test_vgg_stages_reach_imagenet_sizes():
    five = VGGAutoencoder((3, 64, 64), k=7, width=4, stages=5)
    assert (five.hq, five.code_channels) == (2, 32)
    x = torch.rand(2, 3, 64, 64)
    assert five.encode(x).shape == (2, 7) and five(x).shape == x.shape
    with pytest.raises(ValueError, match="pooling stages"):
        VGGAutoencoder((3, 16, 16), k=3, width=4, stages=5)


def test_class_subset_orders_logits():
    base = torch.nn.Linear(3, 5)
    sub = ClassSubset(base, [3, 1], 5)
    x = torch.rand(4, 3)
    with torch.no_grad():
        assert torch.equal(sub(x), base(x)[:, [3, 1, 0, 2, 4]])
    with pytest.raises(ValueError):
        ClassSubset(base, [5], 5)
    assert isinstance(PretrainedClassifier((3, 32, 32), 18, 10, [0, 1]).net, ClassSubset)


# ----------------------------------------------------------------------------- DMM


def _toy_store(n_classes=4, per=6):
    labels = np.tile(np.arange(n_classes), per)
    rng = np.random.default_rng(0)
    n = len(labels)
    return xr.Dataset(
        {
            "image": (("sample", "channel", "row", "col"), rng.random((n, 1, 8, 8), "float32")),
            "label": (("sample",), labels),
        },
        coords={
            "sample": np.arange(n),
            "split": ("sample", np.where(np.arange(n) < n // 2, "train", "test")),
            "class_index": np.arange(n_classes),
        },
    )


def test_manifold_classes_select_samples_not_positions():
    ds = _toy_store()
    sub = manifold_subset(ds, [1, 3])
    assert set(sub.label.values) == {1, 3} and list(sub.class_index.values) == [0, 1, 2, 3]
    assert manifold_subset(ds, None) is ds
    with pytest.raises(ValueError, match="not in the dataset"):
        manifold_subset(ds, [7])
    x, y, ids = split_head(ds, "test", 4, classes=[2])
    assert len(ids) == 3 and set(y.tolist()) == {2}  # positions among all four classes
    ae_cfg = {
        "kind": "mlp",
        "k": 2,
        "hidden": [4],
        "epochs": 1,
        "lr": 1e-3,
        "batch_size": 4,
        "classes": [0, 2],
    }
    *_, store = fit_autoencoder(ds, ae_cfg, 0, torch.device("cpu"))
    assert set(ds.label.sel(sample=store.sample.values).values) == {0, 2}


def _paper(root, *overlays):
    cfg = load_yaml(root / "config/paper.yaml")
    for o in overlays:
        extra = load_yaml(root / o)
        for key, val in extra.items():
            if isinstance(val, dict) and isinstance(cfg.get(key), dict):
                for k, v in val.items():
                    cfg[key][k] = {**cfg[key].get(k, {}), **v} if isinstance(v, dict) else v
            else:
                cfg[key] = val
    return check_config(cfg, root / "config/schema.yaml")


def test_paper_configs_hold_the_papers_settings(root):
    cfg = _paper(root, "config/paper_imagenet.yaml")
    assert cfg["natural"]["cifar10"]["classes"] == list(range(10))
    assert cfg["dmm"]["cifar10"]["autoencoder"]["classes"] == [0, 1]
    assert "cifar10" in cfg["shells"]["datasets"]
    assert cfg["shells"]["cifar10"]["classifier"]["kind"] == "resnet"
    assert cfg["dmm"]["ablations"]["archs"] == ["resnet"]
    im = cfg["dmm"]["imagenet"]
    assert im["autoencoder"]["k"] == 3584 and im["n_samples"] == 100
    assert (im["attack"]["eps"], im["attack"]["step"], im["constrained"]["eps"]) == (2.0, 0.8, 5.0)
    assert dmm_reg.summary_params(cfg, "imagenet")["attack_variants"] == ["pretrained"]
    names = [f.name for f in dmm_reg.figures(cfg)]
    assert "dmm_imagenet_projections" in names and "dmm_imagenet_clinging" not in names
    assert "results/dmm/imagenet/metrics.json" in dmm_reg.metric_files(cfg)


def test_dmm_checks_name_the_key(root):
    cfg = _paper(root, "config/paper_imagenet.yaml")
    assert dmm_checks.errors(cfg) == []
    bad = copy.deepcopy(cfg)
    bad["dmm"]["cifar10"]["autoencoder"]["classes"] = [0, 11]
    assert any("dmm.cifar10.autoencoder.classes" in e for e in dmm_checks.errors(bad))
    bad = copy.deepcopy(cfg)
    bad["natural"]["cifar10"]["n_test"] = 5000  # 1000 of them planes and cars
    bad["dmm"]["n_samples"] = 1500
    assert any("1000 test images of cifar10" in e for e in dmm_checks.errors(bad))
    bad = copy.deepcopy(cfg)
    bad["dmm"]["datasets"].append("imagenet")
    assert any("also in dmm.datasets" in e for e in dmm_checks.errors(bad))
    bad = copy.deepcopy(cfg)
    bad["dmm"]["imagenet"]["pretrained"]["weights"] = None
    assert any("dmm.imagenet.pretrained.weights" in e for e in dmm_checks.errors(bad))
    bad = copy.deepcopy(cfg)
    bad["dmm"]["ablations"]["datasets"] = ["mnist", "cifar10", "imagenet"]
    errs = dmm_checks.errors(bad)
    assert any("dmm.ablations.datasets" in e and "'imagenet'" in e for e in errs)
    from pipeline_lib.studies.dmm import ablation_registry

    assert ablation_registry.datasets(cfg) == ["cifar10"]
    assert ablation_registry.metric_files(cfg) == ["results/dmm/cifar10/ablations/metrics.json"]
    bad = copy.deepcopy(cfg)
    bad["natural"]["imagenet"]["download"] = True
    with pytest.raises(Exception, match="ImageNet cannot be downloaded"):
        check_config(bad, root / "config/schema.yaml")


def test_runtimes_follow_the_model(root):
    cfg = _paper(root, "config/paper_imagenet.yaml")
    w = {"dataset": "cifar10", "variant": "clean", "seed": 0}
    resnet = costs.runtime_min("dmm_ablation_classifier", cfg, {**w, "arch": "resnet"})
    assert costs.runtime_min("shells_base", cfg, {**w, "base": "clean"}) > 10
    assert resnet >= 10
    pre = costs.runtime_min("dmm_attacks", cfg, {"dataset": "imagenet", "variant": "pretrained"})
    small = copy.deepcopy(cfg)
    small["natural"]["imagenet"]["image_size"] = 64
    assert pre > costs.runtime_min(
        "dmm_attacks", small, {"dataset": "imagenet", "variant": "pretrained"}
    )


# ----------------------------------------------------------------------------- early error


def test_missing_dataset_stops_the_run_before_any_job(root, tmp_path):
    wd = copy_workflow(root, tmp_path / "wf")
    (wd / "c.yaml").write_text(
        "natural: {datasets: [fashion_mnist, mnist], mnist: {data_dir: nowhere}}\n"
    )
    target = ["results/data/mnist.zarr", "--configfile", "c.yaml", "--cores", "1"]
    dry = subprocess.run([SNAKEMAKE, "-n", *target], cwd=wd, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "note: a run stops before its first job: MNIST: natural.mnist.data_dir" in dry.stderr
    run = subprocess.run([SNAKEMAKE, *target], cwd=wd, capture_output=True, text=True)
    assert run.returncode != 0
    assert "missing dataset files" in run.stderr and "'nowhere' is not a directory" in run.stderr
    assert not (wd / "logs").exists() and not (wd / "results").exists()
    # a dataset whose store exists needs no files; one that may be downloaded is let through
    cfg = {"natural": {"datasets": ["mnist"], "mnist": {"data_dir": "nowhere"}}}
    assert datafiles.config_problems(cfg, lambda name: True) == []
    cfg["natural"]["mnist"]["download"] = True
    assert datafiles.config_problems(cfg, lambda name: False) == []
    cfg = {
        "natural": {"datasets": []},
        "dmm": {
            "pretrained_datasets": ["imagenet"],
            "imagenet": {"pretrained": {"weights": str(tmp_path / "no.pth")}},
        },
    }
    (msg,) = datafiles.config_problems(cfg, lambda name: False)
    assert "dmm.imagenet.pretrained.weights" in msg and "torch.save" in msg
