# Shared helpers: run lists, figure lists, resources.

import re
from pathlib import Path

from pipeline_lib.studies.lowdim.synthetic import get_manifold

RES = "results"
LOW = config["lowdim"]
DMM = config["dmm"]
DMM_VARIANTS = DMM["variants"]
DMM_ATTACK_VARIANTS = [v for v in ("clean", "adversarial") if v in DMM_VARIANTS]
DMM_FIGURES = (
    "autoencoder",
    "ratios",
    "projections",
    "onoff",
    "clinging",
    "adv_training",
    "mislabeled",
    "linf_l2",
)
TILT = config["tilting"]
TILT_FIGURES = ("angle", "plane", "perturbation")
SHELLS = config["shells"]
SQ = config["squiggles"]
SQ_VARIANTS = SQ["variants"]
SQ_ANALYSIS = SQ["analysis_variants"]
SQ_FIGURES = ("latent", "distance", "pixel", "decomposition", "errors")
GPU = 0 if config["device"] == "cpu" else 1


wildcard_constraints:
    manifold="line|diagonal|plane",
    variant="clean|adversarial|random_labels",
    seed=r"\d+",
    dataset="fashion_mnist|mnist|cifar10",
    scheme="det|rand|two_class",
    what="|".join(DMM_FIGURES),
    tilt_what="|".join(TILT_FIGURES),
    base="clean|linf_adv",
    shell="mcn|ncn",
    sqv="taylor|sinenet",
    split="train|test",
    sigma=r"\d+(\.\d+)?",
    sq_what="|".join(SQ_FIGURES),


def grid_res(wildcards):
    """Grid points per axis for this manifold's input dimension (2D or 3D)."""
    n = get_manifold(wildcards.manifold).n
    return LOW["grid"]["res_2d"] if n == 2 else LOW["grid"]["res_3d"]


def lowdim_run(manifold, variant, seed):
    return f"{RES}/lowdim/{manifold}/{variant}/seed{seed}/boundary.zarr"


def lowdim_runs():
    return [
        lowdim_run(m, v, s)
        for m in LOW["manifolds"]
        for v in LOW["variants"]
        for s in LOW["seeds"]
    ]


def lowdim_figure_runs(manifolds, variants):
    """Run stores drawn in the boundary figures (figure_seed only), manifold-major."""
    return [
        lowdim_run(m, v, LOW["figure_seed"])
        for m in manifolds
        if m in LOW["manifolds"]
        for v in variants
    ]


LINES = [m for m in LOW["manifolds"] if m in ("line", "diagonal")]
HAS_PLANE = "plane" in LOW["manifolds"]
HAS_ADV = "adversarial" in LOW["variants"] and "clean" in LOW["variants"]
HAS_RANDOM = "random_labels" in LOW["variants"] and "clean" in LOW["variants"]
HAS_CLEAN = "clean" in LOW["variants"]


def figure_rules():
    """Figure name -> the rule that makes it, for the figures this config produces."""
    figs = {"dmm_lowdim_clinging": "figure_lowdim_clinging"}
    if HAS_CLEAN:
        if LINES:
            figs["dmm_lowdim_boundary_2d"] = "figure_lowdim_boundary_2d"
        if HAS_PLANE:
            figs["dmm_lowdim_height_maps"] = "figure_lowdim_height_maps"
        figs["dmm_lowdim_gradients"] = "figure_lowdim_gradients"
    if HAS_ADV:
        figs["dmm_lowdim_adversarial"] = "figure_lowdim_adversarial"
    if HAS_RANDOM:
        figs["dmm_lowdim_random_labels"] = "figure_lowdim_random_labels"
    for d in config["natural"]["datasets"]:
        figs[f"data_{d}_samples"] = "figure_natural_samples"
    for d in DMM["datasets"]:
        for what in dmm_figures():
            figs[f"dmm_{d}_{what}"] = "figure_dmm"
    for d in TILT["datasets"]:
        for what in TILT_FIGURES:
            figs[f"tilting_{d}_{what}"] = "figure_tilting"
    figs["tilting_toy"] = "figure_tilting_toy"
    for d in SHELLS["datasets"]:
        figs[f"shells_{d}_success"] = "figure_shells_success"
        for b in SHELLS["bases"]:
            for sh in SHELLS["shells"]:
                figs[f"shells_{d}_{b}_{sh}_gallery"] = "figure_shells_gallery"
    for v in SQ_VARIANTS:
        figs[f"squiggles_{v}_examples"] = "figure_squiggles_examples"
    if SQ_VARIANTS:
        figs["squiggles_generalization"] = "figure_squiggles_generalization"
    for v in SQ_ANALYSIS:
        for what in SQ_FIGURES:
            figs[f"squiggles_{v}_{what}"] = "figure_squiggles"
    return figs


def dmm_run(dataset, variant, seed, name):
    return f"{RES}/dmm/{dataset}/{variant}/seed{seed}/{name}"


def dmm_figures():
    """The natural-image DMM figures this config's variants and schemes allow."""
    out = ["autoencoder", "clinging"]
    if DMM_ATTACK_VARIANTS:
        out += ["ratios", "projections", "onoff", "linf_l2"]
    if len(DMM_ATTACK_VARIANTS) == 2:
        out.append("adv_training")
    if DMM["mislabeled"]["schemes"]:
        out.append("mislabeled")
    return [w for w in DMM_FIGURES if w in out]


def dmm_summary_inputs(w):
    """Every store of one dataset's DMM experiments, grouped (variant- or scheme-major,
    then seed) in the order the summary script expects."""
    d, seeds = w.dataset, DMM["seeds"]
    return {
        "autoencoder": f"{RES}/dmm/{d}/autoencoder.zarr",
        "tangents": f"{RES}/dmm/{d}/tangents.zarr",
        "trainings": [
            dmm_run(d, v, s, "training.zarr") for v in DMM_VARIANTS for s in seeds
        ],
        "distances": [
            dmm_run(d, v, s, "distance.zarr") for v in DMM_VARIANTS for s in seeds
        ],
        "attacks": [
            dmm_run(d, v, s, "attacks.zarr") for v in DMM_ATTACK_VARIANTS for s in seeds
        ],
        "mislabeled": [
            f"{RES}/dmm/{d}/mislabeled/{m}/seed{s}.zarr"
            for m in DMM["mislabeled"]["schemes"]
            for s in seeds
        ],
    }


DMM_FIGURE_INPUTS = {
    "autoencoder": ("autoencoder", "tangents"),
    "ratios": ("attacks",),
    "projections": ("attacks", "tangents"),
    "onoff": ("attacks",),
    "clinging": ("distances", "trainings"),
    "adv_training": ("attacks",),
    "mislabeled": ("mislabeled",),
    "linf_l2": ("attacks",),
}


def dmm_figure_inputs(w):
    """Only the stores a DMM figure draws, so a change reruns only the figures it feeds."""
    full = dmm_summary_inputs(w)
    out = {k: full[k] for k in DMM_FIGURE_INPUTS[w.what]}
    out["data"] = f"{RES}/data/{w.dataset}.zarr"
    return out


def figure_names():
    return list(figure_rules())


def metric_files():
    return (
        [f"{RES}/lowdim/metrics.json"]
        + [f"{RES}/data/{d}_metrics.json" for d in config["natural"]["datasets"]]
        + [f"{RES}/dmm/{d}/metrics.json" for d in DMM["datasets"]]
        + [f"{RES}/tilting/metrics.json"]
        + [f"{RES}/shells/{d}/metrics.json" for d in SHELLS["datasets"]]
        + ([f"{RES}/squiggles/metrics.json"] if SQ_VARIANTS else [])
    )


FIG = f"{RES}/figures"


def lowdim_data(manifolds):
    return [f"{RES}/lowdim/{m}/data.zarr" for m in manifolds if m in LOW["manifolds"]]


def shells_run(dataset, base, seed, name):
    return f"{RES}/shells/{dataset}/{base}/seed{seed}/{name}"


def shells_evaluations(dataset):
    """Evaluation stores of one dataset, base-major then seed."""
    return [
        shells_run(dataset, b, s, "evaluation.zarr")
        for b in SHELLS["bases"]
        for s in SHELLS["seeds"]
    ]


def shells_model(w):
    """The base model of one shells evaluation. The clean base reuses the DMM clean
    classifier of the same dataset and seed when its settings are identical (same data,
    same seed, same optimiser: the same network), instead of training it twice."""
    d, seed = w.dataset, int(w.seed)
    if (
        w.base == "clean"
        and d in DMM["datasets"]
        and "clean" in DMM_VARIANTS
        and seed in DMM["seeds"]
        and DMM[d]["classifier"] == SHELLS[d]["classifier"]
    ):
        return dmm_run(d, "clean", seed, "model.pt")
    return shells_run(d, w.base, seed, "model.pt")


def sq_sigma(s):
    """Path form of a noise level: 0.0 -> '0', 0.08 -> '0.08'."""
    return f"{float(s):g}"


SQ_SIGMAS = [sq_sigma(s) for s in SQ["noise_sigmas"]]


def sq_data(variant, split):
    return f"{RES}/squiggles/data/{variant}-{split}.zarr"


def sq_run(variant, sigma, seed, name):
    """A per-model file: model.pt, training.zarr, pixel.zarr."""
    return f"{RES}/squiggles/{variant}/sigma{sigma}/seed{seed}/{name}"


def sq_seed_run(variant, seed, name):
    """A per-seed file of an analysis variant: latent, distance, decomposition stores."""
    return f"{RES}/squiggles/{variant}/seed{seed}/{name}"


def sq_model_sigmas(variant):
    """Noise levels trained for a variant: all for analysis variants, else only 0."""
    return SQ_SIGMAS if variant in SQ_ANALYSIS else [sq_sigma(0.0)]


def sq_trainings():
    """Every training store, variant-major, then sigma, then seed."""
    return [
        sq_run(v, s, seed, "training.zarr")
        for v in SQ_VARIANTS
        for s in sq_model_sigmas(v)
        for seed in SQ["seeds"]
    ]


def sq_other(variant):
    return "taylor" if variant == "sinenet" else "sinenet"


def sq_analysis_inputs(variant):
    """The stores of one analysis variant, by kind, seed-major within each kind."""
    seeds = SQ["seeds"]
    return {
        "latent": [sq_seed_run(variant, s, "latent.zarr") for s in seeds],
        "distance": [sq_seed_run(variant, s, "distance.zarr") for s in seeds],
        "pixel": [
            sq_run(variant, g, s, "pixel.zarr") for g in SQ_SIGMAS for s in seeds
        ],
        "decomposition": [sq_seed_run(variant, s, "decomposition.zarr") for s in seeds],
    }


def sq_figure_inputs(w):
    """Only the stores one Squiggles figure draws (the first seed for galleries)."""
    a, s0 = sq_analysis_inputs(w.sqv), SQ["seeds"][0]
    first = {
        "training": sq_run(w.sqv, "0", s0, "training.zarr"),
        "latent_first": sq_seed_run(w.sqv, s0, "latent.zarr"),
        "pixel_first": [sq_run(w.sqv, g, s0, "pixel.zarr") for g in SQ_SIGMAS],
    }
    data = {"data": sq_data(w.sqv, "test")}
    return {
        "latent": {"latent": a["latent"]},
        "distance": {k: a[k] for k in ("distance", "latent", "pixel")},
        "pixel": {"pixel": a["pixel"]},
        "decomposition": {"decomposition": a["decomposition"][:1], **data},
        "errors": {**first, **data},
    }[w.sq_what]


def figure_caption(wildcards, output):
    """The gallery's caption of a figure and the full references of the papers it
    reproduces, RST-escaped, for its Snakemake report entry."""
    from pipeline_lib.gallery import caption_for
    from pipeline_lib.references import figure_references

    name = Path(output[0]).stem
    refs = " ".join(f"{r.short}: {r.text()}" for r in figure_references(name))
    text = caption_for(name) + (f" Reproduces: {refs}" if refs else "")
    return re.sub(r"([\\*`|_])", r"\\\1", text)
