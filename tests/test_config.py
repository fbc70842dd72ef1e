import copy

import pytest
import yaml

from pipeline_lib.config import ConfigError, check_config

SCHEMA = "config/schema.yaml"


@pytest.fixture
def schema(root):
    return yaml.safe_load((root / SCHEMA).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml", "ablations.yaml"])
def test_shipped_configs_validate(root, schema, name):
    base = yaml.safe_load((root / "config" / "config.yaml").read_text())
    over = yaml.safe_load((root / "config" / name).read_text())
    # --configfile overlays a file on config/config.yaml, as Snakemake does
    merged = copy.deepcopy(base)
    for k, v in over.items():
        merged[k] = {**merged.get(k, {}), **v} if isinstance(v, dict) else v
    cfg = check_config(merged, schema)
    assert cfg["lowdim"]["model"]["hidden"] >= 1


def test_defaults_fill_everything(schema):
    cfg = check_config({}, schema)
    assert cfg["lowdim"]["train"]["epochs"] == 200
    assert cfg["natural"]["fashion_mnist"]["classes"] == list(range(10))
    assert cfg["device"] == "auto"


BAD = [
    ({"lowdim": {"epochs": 5}}, "lowdim.epochs", "allowed keys under 'lowdim'"),
    ({"lowdim": {"trian": {}}}, "lowdim.trian", "did you mean 'lowdim.train'"),
    ({"devise": "cpu"}, "devise", "did you mean 'device'"),
    ({"device": "gpu"}, "device", "'auto', 'cpu', 'cuda'"),
    ({"lowdim": {"train": {"epochs": 0}}}, "lowdim.train.epochs", ">= 1"),
    ({"lowdim": {"train": {"epochs": "ten"}}}, "lowdim.train.epochs", "integer"),
    ({"lowdim": {"train": {"lr": -0.1}}}, "lowdim.train.lr", "> 0"),
    ({"lowdim": {"adversarial": {"eps": 0}}}, "lowdim.adversarial.eps", "> 0"),
    ({"lowdim": {"seeds": []}}, "lowdim.seeds", "at least 1"),
    ({"lowdim": {"seeds": [1, 1]}}, "lowdim.seeds", "no duplicates"),
    ({"lowdim": {"manifolds": ["torus"]}}, "lowdim.manifolds[0]", "'line', 'diagonal', 'plane'"),
    ({"natural": {"datasets": ["svhn"]}}, "natural.datasets[0]", "'fashion_mnist'"),
    ({"natural": {"fashion_mnist": {"classes": [0, 10]}}}, "fashion_mnist.classes[1]", "<= 9"),
    ({"natural": {"fashion_mnist": {"classes": []}}}, "fashion_mnist.classes", "at least 2"),
    ({"natural": {"mnist": {"n_train": 0}}}, "natural.mnist.n_train", ">= 1"),
    ({"lowdim": {"snapshot_epochs": [0, 300]}}, "lowdim.snapshot_epochs", "0..lowdim.train.epochs"),
    ({"lowdim": {"figure_seed": 9}}, "lowdim.figure_seed", "one of lowdim.seeds"),
    ({"lowdim": {"model": {"output_weights": "gauss"}}}, "lowdim.model.output_weights", "'sign'"),
    ({"lowdim": {"data": {"margin": 0.6}}}, "lowdim.data.margin", "<= 0.4"),
    ({"tilting": {"lambdas": {"min": 10.0, "max": 1.0}}}, "tilting.lambdas.min", "0 < min < max"),
    ({"tilting": {"lambdas": {"n": 1}}}, "tilting.lambdas.n", ">= 2"),
    ({"tilting": {"datasets": ["cifar10"]}}, "tilting.datasets[0]", "'fashion_mnist', 'mnist'"),
    ({"tilting": {"datasets": ["mnist"]}}, "tilting.datasets", "listed in natural.datasets"),
    (
        {"tilting": {"fashion_mnist": {"classes": [2]}}},
        "tilting.fashion_mnist.classes",
        "at least 2",
    ),
    (
        {"natural": {"fashion_mnist": {"classes": [0, 1, 7, 9]}}, "dmm": {"datasets": []}},
        "tilting.fashion_mnist.classes",
        "two of [0, 1, 7, 9]",
    ),
    ({"shells": {"n_batches": 100}}, "shells.n_batches", "n_batches * batch_size <= n_test"),
    ({"shells": {"bases": ["robust"]}}, "shells.bases[0]", "'clean', 'linf_adv'"),
    ({"shells": {"figure_seed": 5}}, "shells.figure_seed", "one of shells.seeds"),
    (
        {"shells": {"fashion_mnist": {"mcn": {"step": 0.5}}}},
        "shells.fashion_mnist.mcn.step",
        "0 < step <= radius",
    ),
    (
        {"shells": {"fashion_mnist": {"ncn": {"alphas": [100.0, 10.0]}}}},
        "shells.fashion_mnist.ncn.alphas",
        "strictly increasing",
    ),
    ({"shells": {"fashion_mnist": {"ncn": {"p": 1.0}}}}, "shells.fashion_mnist.ncn.p", "< 1"),
    (
        {"shells": {"fashion_mnist": {"mcn": {"norm": "l1"}}}},
        "shells.fashion_mnist.mcn.norm",
        "'linf', 'l2'",
    ),
    ({"squiggles": {"variants": ["spiral"]}}, "squiggles.variants[0]", "'taylor', 'sinenet'"),
    (
        {"squiggles": {"variants": ["taylor"], "analysis_variants": ["sinenet"]}},
        "squiggles.analysis_variants",
        "a subset of squiggles.variants",
    ),
    ({"squiggles": {"variants": ["sinenet"]}}, "squiggles.variants", "[taylor, sinenet]"),
    ({"squiggles": {"noise_sigmas": [0.08]}}, "squiggles.noise_sigmas", "containing 0.0"),
    ({"squiggles": {"noise_sigmas": [0.0, -0.1]}}, "squiggles.noise_sigmas[1]", ">= 0"),
    (
        {"squiggles": {"attack": {"focus_eps": 0.2}}},
        "squiggles.attack.focus_eps",
        "one of pixel_eps",
    ),
    ({"squiggles": {"attack": {"n_samples": 5000}}}, "squiggles.attack.n_samples", "1..2000"),
    (
        {"squiggles": {"ablations": {"attack_loss": ["cross_entropy"]}}},
        "squiggles.ablations.attack_loss",
        "the other objectives",
    ),
    ({"squiggles": {"attack": {"loss": "hinge"}}}, "squiggles.attack.loss", "cross_entropy"),
    (
        {"squiggles": {"decomposition": {"n_samples": 500}}},
        "squiggles.decomposition.n_samples",
        "1..100",
    ),
    ({"squiggles": {"attack": {"latent_step_ratio": 0.5}}}, "latent_step_ratio", ">= 1"),
    ({"squiggles": {"classifier": {"arch": "vgg"}}}, "squiggles.classifier.arch", "'cnn'"),
    ({"squiggles": {"resolution": 4}}, "squiggles.resolution", ">= 8"),
    ({"squiggles": {"decomposition": {"rtol": 1.0}}}, "squiggles.decomposition.rtol", "< 1"),
]


@pytest.mark.parametrize(("bad", "key", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_bad_config_names_key_and_allowed(schema, bad, key, allowed):
    with pytest.raises(ConfigError) as exc:
        check_config(bad, schema)
    msg = str(exc.value)
    assert key in msg
    assert allowed in msg


def test_all_errors_reported_at_once(schema):
    with pytest.raises(ConfigError) as exc:
        check_config({"device": "tpu", "seed": -1}, schema)
    assert "'device'" in str(exc.value) and "'seed'" in str(exc.value)


def test_non_mapping_config(schema):
    with pytest.raises(ConfigError, match="mapping"):
        check_config(["a"], schema)


def test_key_order_does_not_matter(schema):
    a = check_config(
        {"lowdim": {"train": {"lr": 0.1, "epochs": 5}, "snapshot_epochs": [0, 5]}}, schema
    )
    b = check_config(
        {"lowdim": {"snapshot_epochs": [0, 5], "train": {"epochs": 5, "lr": 0.1}}}, schema
    )
    assert repr(a) == repr(b)
