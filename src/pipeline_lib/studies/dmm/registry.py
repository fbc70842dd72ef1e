"""The natural-image Dimpled-Manifold study's registry: its result paths and figures.

Imported when the Snakefile is parsed: nothing numerical at module level; the drawings
import the plots lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline_lib.figures import Figure

RES = "results/dmm"
RULE = "figure_dmm"
CATEGORY = "Natural-image DMM"
# Further registries of this study (modules of this package, named, not imported here:
# the figure script imports this module, and an edit to the ablations' registry must not
# rerun the default figures). pipeline_lib.studies composes their figures and metrics.
EXTRA_REGISTRIES = ("ablation_registry",)
KINDS = (
    "autoencoder",
    "ratios",
    "projections",
    "onoff",
    "clinging",
    "adv_training",
    "mislabeled",
    "similarity",
    "linf_l2",
    "controls",
)


# kind -> the function of this study's plots module that draws it
PLOTS = {
    "autoencoder": "autoencoder_figure",
    "ratios": "ratio_figure",
    "projections": "projection_gallery",
    "onoff": "onoff_figure",
    "clinging": "clinging_figure",
    "adv_training": "adv_training_figure",
    "mislabeled": "mislabeled_figure",
    "similarity": "similarity_figure",
    "linf_l2": "linf_l2_figure",
    "controls": "controls_figure",
}


def attack_variants(cfg: Mapping) -> list[str]:
    """The classifier variants that are attacked (clean, adversarially and noise trained)."""
    return [v for v in ("clean", "adversarial", "noise") if v in cfg["dmm"]["variants"]]


def distance_variants(cfg: Mapping) -> list[str]:
    """The classifier variants whose boundary distance is tracked per epoch (Fig. 6):
    ``dmm.distance_variants`` (null: every variant), in ``dmm.variants``' order."""
    chosen = cfg["dmm"].get("distance_variants")
    return [v for v in cfg["dmm"]["variants"] if chosen is None or v in chosen]


def baseline_seed(cfg: Mapping, seed) -> int | None:
    """Sec. 5.2's baseline network for N1 of ``seed``: the clean classifier of the next
    configured seed (cyclically); None with one seed (the job trains its own)."""
    seeds = list(cfg["dmm"]["seeds"])
    if len(seeds) < 2 or "clean" not in cfg["dmm"]["variants"]:
        return None
    return seeds[(seeds.index(int(seed)) + 1) % len(seeds)]


def mislabeled_baseline(cfg: Mapping, dataset: str, scheme: str, seed) -> list[str]:
    """The baseline model file of one Sec. 5.2 job ([] where the job trains its own)."""
    other = baseline_seed(cfg, seed)
    if scheme == "two_class" or other is None:
        return []
    return [run(dataset, "clean", other, "model.pt")]


def run(dataset: str, variant: str, seed, name: str) -> str:
    """A per-classifier file: model.pt, checkpoints.pt, training/distance/attacks/
    controls.zarr."""
    return f"{RES}/{dataset}/{variant}/seed{seed}/{name}"


def mislabeled(dataset: str, scheme: str, seed) -> str:
    return f"{RES}/{dataset}/mislabeled/{scheme}/seed{seed}.zarr"


def pretrained_datasets(cfg: Mapping) -> list[str]:
    """Datasets attacked with a pretrained classifier only (DMM App. G.3, ImageNet)."""
    return list(cfg["dmm"].get("pretrained_datasets", []))


def pretrained_weights(cfg: Mapping, dataset: str) -> str:
    """The local weights file of a pretrained dataset's classifier (an input of the job,
    so a missing file stops the run before it starts)."""
    weights = cfg["dmm"][dataset]["pretrained"]["weights"]
    if not weights:
        raise ValueError(
            f"config key 'dmm.{dataset}.pretrained.weights' is not set; a dataset in "
            "dmm.pretrained_datasets needs its classifier's state dict file"
        )
    return str(weights)


def n_samples(cfg: Mapping, dataset: str) -> int:
    """Test images of ``dataset`` the attacks analyse: its own ``n_samples`` where set,
    else ``dmm.n_samples``."""
    own = cfg["dmm"].get(dataset, {}).get("n_samples")
    return int(own if own is not None else cfg["dmm"]["n_samples"])


def summary_params(cfg: Mapping, dataset: str) -> dict:
    """The groups of one dataset's summary: classifier variants, attacked variants,
    seeds and Sec. 5.2 schemes; a pretrained dataset has one attacked classifier
    ("pretrained", seed 0) and no training, Fig. 6 or Sec. 5.2."""
    dmm = cfg["dmm"]
    if dataset in pretrained_datasets(cfg):
        return {
            "variants": [],
            "attack_variants": ["pretrained"],
            "distance_variants": [],
            "seeds": [0],
            "schemes": [],
        }
    return {
        "variants": list(dmm["variants"]),
        "attack_variants": attack_variants(cfg),
        "distance_variants": distance_variants(cfg),
        "seeds": list(dmm["seeds"]),
        "schemes": list(dmm["mislabeled"]["schemes"]),
    }


def summary_inputs(cfg: Mapping, dataset: str) -> dict:
    """Every store of one dataset's DMM experiments, grouped (variant- or scheme-major,
    then seed) in the order the summary expects."""
    d, p = dataset, summary_params(cfg, dataset)
    seeds, variants, attacked = p["seeds"], p["variants"], p["attack_variants"]
    tracked = p["distance_variants"]
    return {
        "autoencoder": f"{RES}/{d}/autoencoder.zarr",
        "tangents": f"{RES}/{d}/tangents.zarr",
        "trainings": [run(d, v, s, "training.zarr") for v in variants for s in seeds],
        "distances": [run(d, v, s, "distance.zarr") for v in tracked for s in seeds],
        "attacks": [run(d, v, s, "attacks.zarr") for v in attacked for s in seeds],
        "controls": [run(d, v, s, "controls.zarr") for v in attacked for s in seeds],
        "mislabeled": [mislabeled(d, m, s) for m in p["schemes"] for s in seeds],
    }


# kind -> (paper location, caption, the summary inputs it draws, key-metric patterns)
_FIGURES = {
    "autoencoder": (
        "DMM App. D.3, G",
        "The manifold model M (DMM App. D.3, G): test images (top) and their autoencoder "
        "reconstructions; distribution of the per-image L2 reconstruction distance (the paper "
        "reports a mean of 2.1 on MNIST) and the training loss.",
        ("autoencoder", "tangents"),
        [r"/(autoencoder_test_l2|autoencoder_test_mse|tangent_fd_min_cosine|k)$"],
    ),
    "ratios": (
        "DMM Table 1, App. E.2, App. I",
        "DMM Table 1 / App. E.2 as distributions: R(d, M) = |d| / |Proj_M d| for greedy L2 PGD "
        "perturbations d, next to two controls the paper lacks: the same d on a random k-dim "
        "subspace, and a Gaussian random vector on M (App. I; the paper's reference sqrt(n/k) "
        "and the exact RMS sqrt(1 + (n-k)/(k-2)) marked); the on-manifold relative effect E; "
        "and the on-manifold share of the input gradient (random: sqrt(k/n)).",
        ("attacks",),
        [
            r"-\w+/(norm_ratio|norm_ratio_random_subspace|norm_ratio_random_vector)$",
            r"-\w+/(on_manifold_relative_effect|gradient_on_manifold_share)$",
            r"/(sqrt_n_over_k|rms_random_ratio_exact)$",
        ],
    ),
    "projections": (
        "DMM Fig. 7, 9-17",
        "DMM Fig. 7, 9-17: x, x + d, x + Proj_M d and x + (d - Proj_M d) with the perturbations "
        "amplified to [0, 1], and the logits along the straight paths from x to each end point "
        "(source and adversarial class).",
        ("attacks", "tangents"),
        [r"-\w+/(full|on|off)_projection_flip_rate$", r"-\w+/pgd_success_rate$"],
    ),
    "onoff": (
        "DMM Table 2, Fig. 8, 18-23",
        "DMM Table 2 and Fig. 8, 18-23: distances of regular, on-manifold and off-manifold "
        "greedy L2 PGD (App. F; on-manifold step 10x) per classifier, with success rates, and "
        "a gallery of the three attacks on the same images.",
        ("attacks",),
        [r"-\w+/(regular|on|off)_pgd_distance$", r"-\w+/on_over_off_distance$"],
    ),
    "clinging": (
        "DMM Fig. 6",
        "DMM Fig. 6 on this dataset: mean L2 distance from test images to the decision boundary "
        "after every epoch (mean ± sd over seeds) for the variants of dmm.distance_variants "
        "(the random-label control among them); test accuracy per epoch.",
        ("distances", "trainings"),
        [r"-\w+/boundary_distance_(initial|min|final)$", r"-\w+/test_accuracy$"],
    ),
    "adv_training": (
        "DMM Sec. 5.1, App. A",
        "DMM Sec. 5.1 / App. A: clean vs adversarially trained vs Gaussian-noise trained "
        "classifier. The paper predicts deeper dimples (larger off-manifold distances) with a "
        "little-changed on-manifold distance and a larger on-manifold share of the input "
        "gradient after adversarial training, and deeper dimples after noise training.",
        ("attacks",),
        [r"/(adversarial|noise)_over_clean_\w+$"],
    ),
    "similarity": (
        "DMM Sec. 5.2",
        "DMM Sec. 5.2's claim that N2's decision boundary is very similar to N1's, measured: "
        "agreement of N1 and N2 on clean test points and on N1's greedy L2 adversarial "
        "examples of them, and the cosine of their margin-loss input gradients; baseline: the "
        "same measures for N1 and an independently trained clean network.",
        ("mislabeled",),
        [r"-mislabeled_\w+/(n2|baseline)_(agreement_clean|agreement_adv|grad_cosine)$"],
    ),
    "controls": (
        "DMM Table 1, 2, Sec. 5.1, 7.1, App. H",
        "Controls beside their measurements: (a) the on/off-manifold PGD distance ratio next "
        "to the same constrained attacks in a random k-dim subspace; (b) the measured ratio "
        "vs the locally linear prediction sqrt(1-s^2)/s from the gradient's on-subspace share "
        "s; (c) R(d, M) and R(d, Q) of greedy L2 PGD from a zero and a random start; (d) the "
        "object share of L2 and L-inf perturbations vs a uniform-magnitude random-sign "
        "perturbation of the same size after the attack's clipping to [0, 1].",
        ("attacks", "controls"),
        [
            r"-\w+/random_subspace_on_over_off_distance$",
            r"-\w+/(linear_on_over_off|on_over_off_per_image)$",
            r"-\w+/random_start_(pgd_success_rate|norm_ratio|norm_ratio_random_subspace)$",
            r"-\w+/(l2|linf)_uniform_object_share$",
        ],
    ),
    "mislabeled": (
        "DMM Sec. 5.2",
        "DMM Sec. 5.2 (Ilyas et al.): N2 trained only on N1's targeted adversarial examples, "
        "labelled with their targets (det: y+1, rand: random other class, two_class), scored "
        "on the clean test set; control: the same target labels on unperturbed images.",
        ("mislabeled",),
        [r"-mislabeled_\w+/(n2_test_accuracy|control_test_accuracy|n1_target_rate)$"],
    ),
    "linf_l2": (
        "DMM App. H",
        "DMM App. H: greedy L2 and L-inf PGD perturbations on the same images, amplified to "
        "[0, 1]; share of each perturbation's energy on object pixels (uniform noise would put "
        "the object-pixel share there).",
        ("attacks",),
        [r"-\w+/(l2_object_share|linf_object_share|object_pixel_share)$"],
    ),
}


def kinds(cfg: Mapping) -> list[str]:
    """The figures this config's variants and schemes allow, in :data:`KINDS` order."""
    dmm, attacked = cfg["dmm"], attack_variants(cfg)
    out = ["autoencoder", "clinging"]
    if attacked:
        out += ["ratios", "projections", "onoff", "linf_l2", "controls"]
    if "clean" in attacked and len(attacked) >= 2:
        out.append("adv_training")
    if dmm["mislabeled"]["schemes"]:
        out += ["mislabeled", "similarity"]
    return [k for k in KINDS if k in out]


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of this study (the gallery merges them)."""
    return [f"{RES}/{d}/metrics.json" for d in [*cfg["dmm"]["datasets"], *pretrained_datasets(cfg)]]


# the figures of a pretrained dataset: no training curves, no second classifier variant
PRETRAINED_KINDS = ("autoencoder", "ratios", "projections", "onoff", "linf_l2", "controls")


def figures(cfg: Mapping) -> list[Figure]:
    dmm = cfg["dmm"]
    out = []
    for d in [*dmm["datasets"], *pretrained_datasets(cfg)]:
        full = summary_inputs(cfg, d)
        pretrained = d in pretrained_datasets(cfg)
        params = {
            **summary_params(cfg, d),
            "figure_seed": 0 if pretrained else dmm["figure_seed"],
            "gallery_samples": dmm["gallery_samples"],
        }
        # only the metrics of this dataset: dmm_natural/<d>/... and dmm_natural/<d>-<run>/...
        scope = rf"^(?=dmm_natural/{re.escape(d)}[/-]).*"
        for kind in PRETRAINED_KINDS if pretrained else kinds(cfg):
            paper, caption, keys, patterns = _FIGURES[kind]
            out.append(
                Figure(
                    name=f"dmm_{d}_{kind}",
                    rule=RULE,
                    kind=kind,
                    category=CATEGORY,
                    subcategory=d,
                    references=("dmm",),
                    paper=paper,
                    inputs={**{k: full[k] for k in keys}, "data": f"results/data/{d}.zarr"},
                    params=params,
                    caption=f"{d}: {caption}",
                    key_metrics=tuple(scope + p.lstrip("^") for p in patterns),
                )
            )
    return out


def draw(kind: str, inputs, p: Mapping):
    """The matplotlib figure of one of this study's figures, from its inputs."""
    from pipeline_lib.zarr_io import group, open_store

    from . import plots

    names = [str(c) for c in open_store(inputs["data"]).class_name.values]
    n_show = p["gallery_samples"]

    def runs(key, by):
        return group(inputs[key], by, p["seeds"])

    def gallery_store(attacks):
        """The figure seed's store of the first attacked variant (clean when present)."""
        return attacks[p["attack_variants"][0]][p["seeds"].index(p["figure_seed"])]

    if kind == "autoencoder":
        return plots.autoencoder_figure(
            open_store(inputs["autoencoder"]), open_store(inputs["tangents"])
        )
    if kind == "ratios":
        return plots.ratio_figure(runs("attacks", p["attack_variants"]))
    if kind == "projections":
        attacks = runs("attacks", p["attack_variants"])
        return plots.projection_gallery(
            gallery_store(attacks),
            open_store(inputs["tangents"]),
            n_show=n_show,
            class_names=names,
        )
    if kind == "onoff":
        attacks = runs("attacks", p["attack_variants"])
        return plots.onoff_figure(attacks, gallery_store(attacks), n_show=n_show, class_names=names)
    if kind == "clinging":
        return plots.clinging_figure(
            runs("distances", p["distance_variants"]), runs("trainings", p["variants"])
        )
    if kind == "adv_training":
        return plots.adv_training_figure(runs("attacks", p["attack_variants"]))
    if kind == "mislabeled":
        return plots.mislabeled_figure(runs("mislabeled", p["schemes"]))
    if kind == "similarity":
        return plots.similarity_figure(runs("mislabeled", p["schemes"]))
    if kind == "controls":
        return plots.controls_figure(
            runs("attacks", p["attack_variants"]), runs("controls", p["attack_variants"])
        )
    if kind == "linf_l2":
        attacks = runs("attacks", p["attack_variants"])
        return plots.linf_l2_figure(gallery_store(attacks), n_show=n_show)
    raise ValueError(f"unknown DMM figure kind {kind!r}")
