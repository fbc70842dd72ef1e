"""Wall-time requests of the workflow's jobs (the ``runtime`` resource, minutes), derived
from the config: a rule's work in its own units (e.g. epochs x training images x input
features for a classifier) times the seconds one unit took, measured on the 2-core CPU
machine in a fresh-clone run of the default config, times a safety factor, with a floor.

A Slurm job asks for that much time (``sbatch -t``); a local run ignores it. The
numbers are CPU costs: on a GPU the jobs take less, so the request is an upper bound
there. A training job that still hits its limit resumes from its last saved epoch when
resubmitted (:mod:`pipeline_lib.resume`). Rules not listed in :data:`SECONDS_PER_UNIT`
(figures, summaries, claims, the gallery) get the floor.

``benchmarks/unit_costs.py <results> <config>`` recomputes the per-unit costs from a
run's benchmark files. Standard library only: the Snakefile uses this at parse time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

FLOOR_MIN = 10  # no job asks for less: start-up, imports, a slow shared file system
SAFETY = 3.0  # measured cost x this: a slower node, a busier file system

PIXELS = {"fashion_mnist": 784, "mnist": 784, "cifar10": 3072, "imagenet": 3 * 224 * 224}


# multiply-adds of one forward pass, for ResNets relative to the MLP the per-unit costs
# were measured with (784-256-256-10: 0.27 M): torchvision's numbers at 224 pixels, the
# small-image stem (3x3, no max pool) at 32; scaled by image area
MLP_MACS = 0.27e6
RESNET_MACS_224 = {18: 1.8e9, 34: 3.6e9, 50: 4.1e9}
RESNET_MACS_32 = {18: 0.56e9, 34: 1.16e9, 50: 1.3e9}


def _pixels(cfg: Mapping, ds: str) -> int:
    if ds == "imagenet":
        return 3 * int(cfg["natural"]["imagenet"].get("image_size", 224)) ** 2
    return PIXELS.get(ds, 784)


def _model_scale(cfg: Mapping, ds: str, variant: str | None = None) -> float:
    """How much more one forward pass of the dataset's DMM classifier costs than the
    measured MLP's: 1 for the MLP and conv nets (measured), the ResNets' MACs otherwise."""
    d = cfg["dmm"].get(ds, {})
    if variant == "pretrained":
        depth = int(d.get("pretrained", {}).get("depth", 50))
    elif d.get("classifier", {}).get("kind") == "resnet":
        depth = int(d["classifier"].get("depth", 50))
    else:
        return 1.0
    side = math.sqrt(_pixels(cfg, ds) / 3)
    if side < 64:
        return RESNET_MACS_32[depth] * (side / 32) ** 2 / MLP_MACS
    return RESNET_MACS_224[depth] * (side / 224) ** 2 / MLP_MACS


def _w(w: Any, name: str, default: Any = None) -> Any:
    if isinstance(w, Mapping):
        return w.get(name, default)
    return getattr(w, name, default)


def _nat(cfg: Mapping, ds: str) -> tuple[int, int]:
    n = cfg["natural"][ds]
    return int(n["n_train"]), int(n.get("n_test", 0))


def _classifier_work(ccfg: Mapping, ds: str, cfg: Mapping, adv: Mapping | None) -> float:
    n_train, _ = _nat(cfg, ds)
    kind = ccfg.get("kind", "mlp")
    if kind == "resnet":  # the conv net of width 32 (factor 8) is ~130x cheaper
        width = 8.0 * RESNET_MACS_32[int(ccfg.get("depth", 50))] / 10e6
    else:
        width = 1.0 if kind == "mlp" else float(ccfg.get("width", 32)) / 4
    steps = 1 + (int(adv["steps"]) if adv else 0)
    return float(ccfg["epochs"]) * n_train * _pixels(cfg, ds) * width * steps


def _lowdim_train(cfg: Mapping, w: Any) -> float:
    ld = cfg["lowdim"]
    d = ld["data"]
    dim = 2 if _w(w, "manifold") == "plane" else 1
    n_points = int(d["clusters_per_axis"]) ** dim * int(d["points_per_cluster"])
    grid = ld["grid"]
    n_grid = int(grid["res_3d"]) ** 3 if dim == 2 else int(grid["res_2d"]) ** 2
    adv = 2 if _w(w, "variant") == "adversarial" else 1
    train = float(ld["train"]["epochs"]) * n_points * adv
    return float(ld["model"]["hidden"]) * (train + len(ld["snapshot_epochs"]) * n_grid)


def _dmm(cfg: Mapping, w: Any) -> Mapping:
    return cfg["dmm"][_w(w, "dataset")]


def _dmm_classifier(cfg: Mapping, w: Any) -> float:
    c = _dmm(cfg, w)
    adv = c["adversarial_training"] if _w(w, "variant") == "adversarial" else None
    return _classifier_work(c["classifier"], _w(w, "dataset"), cfg, adv)


def _dmm_autoencoder(cfg: Mapping, w: Any) -> float:
    ds = _w(w, "dataset")
    n_train, _ = _nat(cfg, ds)
    return float(_dmm(cfg, w)["autoencoder"]["epochs"]) * n_train * _pixels(cfg, ds)


def _dmm_distance(cfg: Mapping, w: Any) -> float:
    c = _dmm(cfg, w)
    d = c["distance"]
    epochs = int(c["classifier"]["epochs"]) + 1
    scale = _model_scale(cfg, _w(w, "dataset"))
    return (
        float(cfg["dmm"]["distance_samples"])
        * epochs
        * (int(d["steps"]) + int(d["bisections"]))
        * scale
    )


def _dmm_attacks(cfg: Mapping, w: Any) -> float:
    c = _dmm(cfg, w)
    steps = int(c["attack"]["steps"]) + int(c["constrained"]["steps"]) + int(c["linf"]["steps"])
    scale = _model_scale(cfg, _w(w, "dataset"), _w(w, "variant"))
    own = cfg["dmm"][_w(w, "dataset")].get("n_samples")
    n = own if own is not None else cfg["dmm"]["n_samples"]
    return float(n) * steps * scale


def _dmm_pretrained(cfg: Mapping, w: Any) -> float:
    # one evaluation of the test split: a hundredth of an attack step per image
    _, n_test = _nat(cfg, _w(w, "dataset"))
    return float(n_test) * _model_scale(cfg, _w(w, "dataset"), "pretrained") / 100


def _dmm_mislabeled(cfg: Mapping, w: Any) -> float:
    c = _dmm(cfg, w)
    train = 2 * _classifier_work(c["classifier"], _w(w, "dataset"), cfg, None)
    return train / 1e4 + float(cfg["dmm"]["mislabeled"]["similarity_samples"]) * int(
        c["mislabeled_attack"]["steps"]
    )


def _dmm_tangents(cfg: Mapping, w: Any) -> float:
    return float(cfg["dmm"]["n_samples"]) * (int(_dmm(cfg, w)["autoencoder"]["k"]) + 1)


def _shells_base(cfg: Mapping, w: Any) -> float:
    s = cfg["shells"][_w(w, "dataset")]
    adv = s["adversarial_training"] if _w(w, "base") == "linf_adv" else None
    return _classifier_work(s["classifier"], _w(w, "dataset"), cfg, adv)


def _shells_evaluate(cfg: Mapping, w: Any) -> float:
    sh = cfg["shells"]
    s = sh[_w(w, "dataset")]
    n_classes = len(cfg["natural"][_w(w, "dataset")]["classes"])
    shell_steps = {
        "mcn": int(s["mcn"]["steps"]),
        "ncn": int(s["ncn"]["steps"]) * len(s["ncn"]["alphas"]),
        "cw": int(s["cw"]["steps"]) * int(s["cw"]["binary_steps"]),
    }
    kinds = list(sh["shells"]) + ["mcn"] * len(sh.get("mcn_delta_factors", []))
    per_point = sum(shell_steps[k] * n_classes for k in kinds)
    attack = int(s["attack"]["steps"]) * int(s["attack"]["restarts"])
    # each shell: its embedding of clean and attacked points, and the BPDA attack
    adaptive = int(s["adaptive"]["steps"]) * int(s["adaptive"]["restarts"])
    extra = sh.get("adaptive_attacks", [])
    if "apgd" in extra:
        adaptive += int(s["apgd"]["steps"]) * int(s["apgd"]["restarts"])
    if "square" in extra:
        adaptive += int(s["square"]["queries"])
    return float(sh["n_batches"] * sh["batch_size"]) * (attack + per_point * (2 + adaptive))


def _sq(cfg: Mapping) -> Mapping:
    return cfg["squiggles"]


def _arch_flops(cfg: Mapping) -> float:
    """Multiply-adds of one forward pass per curve image, to the order of magnitude:
    the CNN's 3x3 convolutions, or ResNet-34's 3.6 GFLOP at 224x224 scaled by area."""
    c, res = _sq(cfg)["classifier"], int(_sq(cfg)["resolution"])
    if c["arch"] == "resnet34":
        return 3.6e9 * (res / 224) ** 2
    return 2 * 9 * float(c.get("width", 8)) ** 2 * res**2 * int(c.get("blocks", 3)) * 2


def _squiggles_dataset(cfg: Mapping, w: Any) -> float:
    n = _sq(cfg)["n_train"] if _w(w, "split") == "train" else _sq(cfg)["n_test"]
    return float(n) * int(_sq(cfg)["resolution"]) ** 2


def _squiggles_train(cfg: Mapping, w: Any) -> float:
    sq = _sq(cfg)
    return float(sq["classifier"]["epochs"]) * int(sq["n_train"]) * _arch_flops(cfg) / 1e6


def _size_frac(w: Any) -> float:
    return float(_w(w, "frac", 1.0))


def _squiggles_size_train(cfg: Mapping, w: Any) -> float:
    # equal steps: the main models' work whatever the size; else the size's share of it
    equal = (_sq(cfg).get("size_sweep") or {}).get("equal_steps", True)
    return _squiggles_train(cfg, w) * (1.0 if equal else _size_frac(w))


def _sweep_share(cfg: Mapping) -> float:
    sw = _sq(cfg).get("size_sweep") or {}
    return float(sw.get("n_samples", 50)) / max(1, int(_sq(cfg)["attack"]["n_samples"]))


def _squiggles_size_latent(cfg: Mapping, w: Any) -> float:
    return _squiggles_latent(cfg, w) * _sweep_share(cfg)


def _squiggles_size_pixel(cfg: Mapping, w: Any) -> float:
    a = _sq(cfg)["attack"]
    n = float((_sq(cfg).get("size_sweep") or {}).get("n_samples", 50))
    return n * (int(a["pixel_steps"]) + int(a["noise_draws"])) * _arch_flops(cfg) / 1e6


def _res_area(w: Any) -> float:
    """The resolution study's pixels per image relative to the base side's."""
    return float(_w(w, "factor", 1)) ** 2


def _res_share(cfg: Mapping) -> float:
    rs = _sq(cfg).get("resolution_study") or {}
    return float(rs.get("n_samples", 50)) / max(1, int(_sq(cfg)["attack"]["n_samples"]))


def _squiggles_res_dataset(cfg: Mapping, w: Any) -> float:
    return _squiggles_dataset(cfg, w) * _res_area(w)


def _squiggles_res_train(cfg: Mapping, w: Any) -> float:
    return _squiggles_train(cfg, w) * _res_area(w)


def _squiggles_res_latent(cfg: Mapping, w: Any) -> float:
    return _squiggles_latent(cfg, w) * _res_share(cfg) * _res_area(w)


def _squiggles_res_pixel(cfg: Mapping, w: Any) -> float:
    # the configured eps grid plus at most the focus eps x factor
    return _squiggles_pixel(cfg, w) * _res_share(cfg) * _res_area(w) * 1.5


def _squiggles_latent(cfg: Mapping, w: Any) -> float:
    a = _sq(cfg)["attack"]
    return (
        float(a["n_samples"])
        * len(a["latent_eps"])
        * int(a["latent_steps"])
        * _arch_flops(cfg)
        / 1e6
    )


def _squiggles_pixel(cfg: Mapping, w: Any) -> float:
    a = _sq(cfg)["attack"]
    steps = len(a["pixel_eps"]) * int(a["pixel_steps"]) + int(a["noise_draws"])
    return float(a["n_samples"]) * steps * _arch_flops(cfg) / 1e6


def _squiggles_distance(cfg: Mapping, w: Any) -> float:
    sq = _sq(cfg)
    d = sq["distance"]
    n_mis = d["n_misclassified"]
    n_mis = int(n_mis) if n_mis is not None else int(sq["n_test"]) // 5
    n = int(sq["attack"]["n_samples"]) + 2 * n_mis
    return float(n) * _arch_flops(cfg) / 1e6


def _squiggles_decomposition(cfg: Mapping, w: Any) -> float:
    return float(_sq(cfg)["decomposition"]["n_samples"]) * _arch_flops(cfg) / 1e6


def _tilting_n(cfg: Mapping, w: Any) -> float:
    t = cfg["tilting"]
    ds = _w(w, "dataset") or t["datasets"][0]
    n_train, _ = _nat(cfg, ds)
    share = len(t[ds]["classes"]) / max(1, len(cfg["natural"][ds]["classes"]))
    return float(t["lambdas"]["n"]) * n_train * share * PIXELS.get(ds, 784)


def _tilting_bootstrap(cfg: Mapping, w: Any) -> float:
    return _tilting_n(cfg, w) * max(1, int(cfg["tilting"]["bootstrap"]))


def _natural_dataset(cfg: Mapping, w: Any) -> float:
    ds = _w(w, "dataset")
    return float(sum(_nat(cfg, ds))) * _pixels(cfg, ds)


UNITS: dict[str, Callable[[Mapping, Any], float]] = {
    "natural_dataset": _natural_dataset,
    "lowdim_train": _lowdim_train,
    "dmm_autoencoder": _dmm_autoencoder,
    "dmm_classifier": _dmm_classifier,
    "dmm_distance": _dmm_distance,
    "dmm_attacks": _dmm_attacks,
    "dmm_pretrained": _dmm_pretrained,
    "dmm_controls": _dmm_attacks,
    "dmm_mislabeled": _dmm_mislabeled,
    "dmm_tangents": _dmm_tangents,
    "shells_base": _shells_base,
    "shells_evaluate": _shells_evaluate,
    "squiggles_dataset": _squiggles_dataset,
    "squiggles_train": _squiggles_train,
    "squiggles_size_train": _squiggles_size_train,
    "squiggles_size_latent": _squiggles_size_latent,
    "squiggles_size_pixel": _squiggles_size_pixel,
    "squiggles_res_dataset": _squiggles_res_dataset,
    "squiggles_res_train": _squiggles_res_train,
    "squiggles_res_latent": _squiggles_res_latent,
    "squiggles_res_pixel": _squiggles_res_pixel,
    "squiggles_latent": _squiggles_latent,
    "squiggles_pixel": _squiggles_pixel,
    "squiggles_distance": _squiggles_distance,
    "squiggles_decomposition": _squiggles_decomposition,
    "tilting_sweep": _tilting_n,
    "tilting_bootstrap": _tilting_bootstrap,
}

# Seconds per unit of work: the largest ratio job seconds / units over a rule's jobs in a
# fresh-clone run of the default config on the 2-core CPU machine (commit 7fe6fd2,
# `benchmarks/unit_costs.py`), start-up included.
SECONDS_PER_UNIT: dict[str, float] = {
    "dmm_attacks": 6.15e-05,
    "dmm_autoencoder": 1.72e-07,
    "dmm_classifier": 8.44e-08,
    "dmm_controls": 7e-05,
    "dmm_distance": 0.000257,
    "dmm_mislabeled": 0.000413,
    "dmm_pretrained": 6.15e-05,  # an attack step's (not measured: no default job)
    "dmm_tangents": 0.00138,
    "lowdim_train": 7.94e-09,
    "natural_dataset": 7.93e-07,
    "shells_base": 3.57e-08,
    "shells_evaluate": 3.01e-05,
    "squiggles_dataset": 7.22e-07,
    "squiggles_decomposition": 0.0687,
    "squiggles_distance": 0.0448,
    "squiggles_latent": 9.95e-05,
    "squiggles_pixel": 4.44e-05,
    "squiggles_train": 8.69e-05,
    # the size sweep's rules run the same code on other sizes: the same costs per unit
    "squiggles_size_train": 8.69e-05,
    "squiggles_size_latent": 9.95e-05,
    "squiggles_size_pixel": 4.44e-05,
    # the resolution study's too, its units scaled by the pixels per image
    "squiggles_res_dataset": 7.22e-07,
    "squiggles_res_train": 8.69e-05,
    "squiggles_res_latent": 9.95e-05,
    "squiggles_res_pixel": 4.44e-05,
    "tilting_bootstrap": 1.02e-06,
    "tilting_sweep": 9.79e-07,
}


def runtime_min(rule: str, cfg: Mapping, wildcards: Any = None) -> int:
    """Minutes one job of ``rule`` asks for: SAFETY x units x seconds per unit x the
    config's ``runtime.scale``, at least FLOOR_MIN (the floor for rules without a
    measured cost), at most ``runtime.max_min`` where set."""
    rt = cfg.get("runtime") or {}
    per_unit = SECONDS_PER_UNIT.get(rule)
    minutes = FLOOR_MIN
    if per_unit is not None and rule in UNITS:
        seconds = SAFETY * per_unit * UNITS[rule](cfg, wildcards or {}) * rt.get("scale", 1.0)
        minutes = max(FLOOR_MIN, math.ceil(seconds / 60))
    cap = rt.get("max_min")
    return minutes if cap is None else min(minutes, int(cap))


def runtime(rule: str, cfg: Mapping) -> Callable[[Any], int]:
    """The ``runtime`` resource of ``rule``, as a function of the job's wildcards."""
    return lambda wildcards: runtime_min(rule, cfg, wildcards)
