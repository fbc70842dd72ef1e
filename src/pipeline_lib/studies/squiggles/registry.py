"""The Squiggles study's registry: its result paths and figures.

Imported when the Snakefile is parsed: nothing numerical at module level; the drawings
import the plots lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from pipeline_lib.figures import Figure

RES = "results/squiggles"
RULE = "figure_squiggles"
CATEGORY = "Squiggles"
REFS = ("squiggles",)
KINDS = ("fig3", "latent", "distance", "pixel", "decomposition", "errors", "attack_vectors")


# kind -> the function of this study's plots module that draws it
PLOTS = {
    "examples": "examples_figure",
    "generalization": "generalization_figure",
    "latent": "latent_figure",
    "distance": "distance_figure",
    "pixel": "pixel_figure",
    "decomposition": "decomposition_figure",
    "errors": "errors_figure",
    "attack_loss": "loss_figure",
    "attack_vectors": "attack_vectors_figure",
    "size_sweep": "size_sweep_figure",
    "resolution": "resolution_figure",
    "fig3": "fig3_figure",
}


def sigma(s) -> str:
    """Path form of a noise level: 0.0 -> '0', 0.08 -> '0.08'."""
    return f"{float(s):g}"


def sigmas(cfg: Mapping) -> list[str]:
    return [sigma(s) for s in cfg["squiggles"]["noise_sigmas"]]


def data(variant: str, split: str) -> str:
    return f"{RES}/data/{variant}-{split}.zarr"


def stream(cfg: Mapping) -> dict | None:
    """The training split's stream settings where it is streamed (no train store), else
    None (squiggles.stream)."""
    st = cfg["squiggles"].get("stream") or {}
    return dict(st) if st.get("enabled") else None


def train_store(cfg: Mapping) -> str | list:
    """squiggles_train's training-set input: the train store, or nothing when streamed."""
    return [] if stream(cfg) else f"{RES}/data/{{variant}}-train.zarr"


def data_stores(cfg: Mapping) -> list[str]:
    """Every dataset store of the config: both splits of each variant (the test split
    alone where the training split is streamed)."""
    splits = ["test"] if stream(cfg) else ["train", "test"]
    return [data(v, s) for v in cfg["squiggles"]["variants"] for s in splits]


def train_mem_mb(cfg: Mapping, factor=1) -> int:
    """squiggles_train's memory: the training images in memory, or a few chunks of them
    (two in flight per worker, the one in training and its shuffled copy) when streamed;
    ``factor`` x the side for the resolution study."""
    sq = cfg["squiggles"]
    per_image = (sq["resolution"] * int(factor)) ** 2 * 4
    st = stream(cfg)
    images = sq["n_train"] * 2 if st is None else st["chunk"] * (2 * max(1, st["workers"]) + 2)
    return 3000 + images * per_image // 2**20


def run(variant: str, sig, seed, name: str) -> str:
    """A per-model file: model.pt, training.zarr, pixel.zarr."""
    return f"{RES}/{variant}/sigma{sig}/seed{seed}/{name}"


def seed_run(variant: str, seed, name: str) -> str:
    """A per-seed file of an analysis variant: latent, distance, decomposition stores."""
    return f"{RES}/{variant}/seed{seed}/{name}"


def steering(cfg: Mapping) -> list[str]:
    """Noise levels of the other variant's models steering the distance search (the
    first is the main estimate)."""
    return [sigma(s) for s in cfg["squiggles"].get("distance", {}).get("steering", [0.0])]


def model_sigmas(cfg: Mapping, variant: str) -> list[str]:
    """Noise levels trained for a variant: all for analysis variants, 0 for the others,
    and the steering levels where the variant steers an analysis variant's distance
    search; in ascending order."""
    sq = cfg["squiggles"]
    out = {sigma(0.0)}
    if variant in sq["analysis_variants"]:
        out |= set(sigmas(cfg))
    if any(other(a) == variant for a in sq["analysis_variants"]):
        out |= set(steering(cfg))
    return sorted(out, key=float)


# ----------------------------------------------------------------- training-set size sweep

SIZE_METRICS = f"{RES}/size_sweep/metrics.json"


def size_sweep(cfg: Mapping) -> dict:
    return dict(cfg["squiggles"].get("size_sweep") or {})


def sweep_sigma(cfg: Mapping) -> str:
    """The noise-trained model of the sweep: 0.08 (the paper's) where trained, else the
    largest configured noise level."""
    noisy = [g for g in sigmas(cfg) if float(g) > 0]
    return "0.08" if "0.08" in noisy else (noisy[-1] if noisy else "")


def frac(f) -> str:
    """Path form of a training-set fraction: 0.25 -> '0.25', 4.0 -> '4'."""
    return f"{float(f):g}"


def sweep_fracs(cfg: Mapping) -> list[str]:
    """The sweep's training-set sizes as fractions of squiggles.n_train, ascending (the
    main models are the point at 1 for their seeds, listed or not)."""
    return [frac(f) for f in sorted(float(f) for f in size_sweep(cfg).get("fractions", []))]


def sweep_size(cfg: Mapping, f) -> int:
    """Training curves of a sweep fraction: round(fraction x n_train), at least 2 (a batch
    norm layer needs two samples)."""
    return max(2, round(float(f) * int(cfg["squiggles"]["n_train"])))


def sweep_active(cfg: Mapping) -> bool:
    sq = cfg["squiggles"]
    return bool(sweep_fracs(cfg) and sq["analysis_variants"] and sweep_sigma(cfg))


def size_run(variant: str, f, sig, seed, name: str) -> str:
    """A sweep model's file: model.pt, training.zarr, pixel.zarr."""
    return f"{RES}/{variant}/frac{f}/sigma{sig}/seed{seed}/{name}"


def size_seed_run(variant: str, f, seed, name: str) -> str:
    """A sweep model's latent store."""
    return f"{RES}/{variant}/frac{f}/seed{seed}/{name}"


def sweep_epochs(cfg: Mapping, f) -> int:
    """Epochs of a sweep model: the main models' number of training steps (epochs /
    fraction, at least 1; the paper's "allowing multiple epochs to reach the same overall
    number of training steps") where equal_steps, else the main epochs."""
    epochs = int(cfg["squiggles"]["classifier"]["epochs"])
    if not size_sweep(cfg).get("equal_steps", True):
        return epochs
    return max(1, round(epochs / float(f)))


def size_stream(cfg: Mapping, f) -> dict | None:
    """A sweep model's training curves: the first ``size`` curves of the training split,
    sliced from the train store where there is one holding them, else generated while
    training (the config's stream settings, or one worker and chunks of 8192)."""
    st = stream(cfg)
    if st is None and float(f) <= 1.0:
        return None
    return st or {"enabled": True, "chunk": 8192, "workers": 1}


def size_train_input(cfg: Mapping, f, variant: str) -> list[str]:
    """The train store a sweep model slices (none where its curves are streamed)."""
    return [] if size_stream(cfg, f) is not None else [data(variant, "train")]


def sweep_points(cfg: Mapping, variant: str) -> list[tuple[int, int, dict]]:
    """Every (size, seed, files) point of a variant's sweep, by size then seed: the sweep's
    models, and at n_train (fraction 1) the main models of the seeds in squiggles.seeds
    (sweep models for the other seeds where 1 is listed); files are ``training``,
    ``latent``, ``pixel0``, ``pixel`` (the noise-trained model's)."""
    sq, sw = cfg["squiggles"], size_sweep(cfg)
    g = sweep_sigma(cfg)
    main_seeds = {int(s) for s in sq["seeds"]}
    fracs = sweep_fracs(cfg)
    out = []
    for f in sorted(set(fracs) | {"1"}, key=float):
        for seed in sw.get("seeds", [0]):
            if f == "1" and int(seed) in main_seeds:
                files = {
                    "training": run(variant, "0", seed, "training.zarr"),
                    "latent": seed_run(variant, seed, "latent.zarr"),
                    "pixel0": run(variant, "0", seed, "pixel.zarr"),
                    "pixel": run(variant, g, seed, "pixel.zarr"),
                }
            elif f in fracs:
                files = {
                    "training": size_run(variant, f, "0", seed, "training.zarr"),
                    "latent": size_seed_run(variant, f, seed, "latent.zarr"),
                    "pixel0": size_run(variant, f, "0", seed, "pixel.zarr"),
                    "pixel": size_run(variant, f, g, seed, "pixel.zarr"),
                }
            else:
                continue
            out.append((sweep_size(cfg, f), int(seed), files))
    return out


def sweep_inputs(cfg: Mapping) -> list[str]:
    """Every store the sweep's summary reads, variant-major then point, in
    :func:`sweep_points` order (training, latent, pixel0, pixel per point)."""
    if not sweep_active(cfg):
        return []
    return [
        f
        for v in cfg["squiggles"]["analysis_variants"]
        for _, _, files in sweep_points(cfg, v)
        for f in (files["training"], files["latent"], files["pixel0"], files["pixel"])
    ]


# ------------------------------------------------ resolution study (Sec. 4.7, Fig. 12)

RES_METRICS = f"{RES}/resolution/metrics.json"


def resolution_study(cfg: Mapping) -> dict:
    return dict(cfg["squiggles"].get("resolution_study") or {})


def res_factors(cfg: Mapping) -> list[str]:
    """The study's resolutions as integer multiples of squiggles.resolution, ascending
    (the paper's 120x120 is factor 2 of its 60x60)."""
    return [str(int(f)) for f in sorted(int(f) for f in resolution_study(cfg).get("factors", []))]


def res_active(cfg: Mapping) -> bool:
    sq = cfg["squiggles"]
    return bool(res_factors(cfg) and sq["analysis_variants"] and sweep_sigma(cfg))


def res_resolution(cfg: Mapping, f) -> int:
    """Pixels per side at factor ``f``."""
    return int(cfg["squiggles"]["resolution"]) * int(f)


def res_data(f, variant: str, split: str) -> str:
    """A dataset store rendered at factor ``f`` (the same curves as at the base
    resolution: the latents do not depend on it)."""
    return f"{RES}/res_x{f}/data/{variant}-{split}.zarr"


def res_run(variant: str, f, sig, seed, name: str) -> str:
    """A resolution-study model's file: model.pt, training.zarr, pixel.zarr."""
    return f"{RES}/res_x{f}/{variant}/sigma{sig}/seed{seed}/{name}"


def res_seed_run(variant: str, f, seed, name: str) -> str:
    """A resolution-study model's latent store."""
    return f"{RES}/res_x{f}/{variant}/seed{seed}/{name}"


def res_train_input(cfg: Mapping, f, variant: str) -> list[str]:
    """The train store a resolution-study model reads (none where the training split is
    streamed: its curves are then rendered at the study's resolution while training)."""
    return [] if stream(cfg) else [res_data(f, variant, "train")]


def res_pixel_eps(cfg: Mapping, f) -> list[float]:
    """Pixel-attack eps at factor ``f``: the configured list, the focus eps and the focus
    eps times ``f`` (the same perturbation per pixel: the paper's 0.30 at 120x120 for
    0.15 at 60x60)."""
    a = cfg["squiggles"]["attack"]
    focus = float(a["focus_eps"])
    return sorted({float(e) for e in a["pixel_eps"]} | {focus, focus * int(f)})


def res_points(cfg: Mapping, variant: str) -> list[tuple[int, int, dict]]:
    """Every (factor, seed, files) point of a variant's resolution study, by factor then
    seed: at factor 1 the main models of the study's seeds, then the study's models;
    files are ``training`` (sigma 0), ``training_noise``, ``latent``, ``pixel0`` and
    ``pixel`` (the noise-trained model's: :func:`sweep_sigma`)."""
    g = sweep_sigma(cfg)
    seeds = [int(s) for s in resolution_study(cfg).get("seeds", [0])]
    out = [
        (
            1,
            s,
            {
                "training": run(variant, "0", s, "training.zarr"),
                "training_noise": run(variant, g, s, "training.zarr"),
                "latent": seed_run(variant, s, "latent.zarr"),
                "pixel0": run(variant, "0", s, "pixel.zarr"),
                "pixel": run(variant, g, s, "pixel.zarr"),
            },
        )
        for s in seeds
    ]
    for f in res_factors(cfg):
        out += [
            (
                int(f),
                s,
                {
                    "training": res_run(variant, f, "0", s, "training.zarr"),
                    "training_noise": res_run(variant, f, g, s, "training.zarr"),
                    "latent": res_seed_run(variant, f, s, "latent.zarr"),
                    "pixel0": res_run(variant, f, "0", s, "pixel.zarr"),
                    "pixel": res_run(variant, f, g, s, "pixel.zarr"),
                },
            )
            for s in seeds
        ]
    return out


RES_FILES = ("training", "training_noise", "latent", "pixel0", "pixel")


def res_inputs(cfg: Mapping) -> list[str]:
    """Every store the resolution study's summary reads, variant-major then point, in
    :func:`res_points` order (:data:`RES_FILES` per point)."""
    if not res_active(cfg):
        return []
    return [
        files[k]
        for v in cfg["squiggles"]["analysis_variants"]
        for _, _, files in res_points(cfg, v)
        for k in RES_FILES
    ]


DISCRIMINATOR = f"{RES}/discriminator.zarr"


def discriminator(cfg: Mapping) -> list[str]:
    """The Sec. 4.2 footnote's generator discriminator store (both generators only)."""
    return [DISCRIMINATOR] if set(cfg["squiggles"]["variants"]) == {"taylor", "sinenet"} else []


def trainings(cfg: Mapping) -> list[str]:
    """Every training store, variant-major, then sigma, then seed."""
    sq = cfg["squiggles"]
    return [
        run(v, s, seed, "training.zarr")
        for v in sq["variants"]
        for s in model_sigmas(cfg, v)
        for seed in sq["seeds"]
    ]


def other(variant: str) -> str:
    """The other generator (its sigma-0 model steers the distance search)."""
    return "taylor" if variant == "sinenet" else "sinenet"


def distance(variant: str, seed, steer) -> str:
    """The distance store of one seed, steered by the other variant's sigma-``steer``
    model."""
    return seed_run(variant, seed, f"distance/steer-sigma{steer}.zarr")


def analysis_inputs(cfg: Mapping, variant: str) -> dict[str, list[str]]:
    """The stores of one analysis variant, by kind, seed-major within each kind; distance
    stores steering-major (the main steering model's first)."""
    seeds = cfg["squiggles"]["seeds"]
    return {
        "latent": [seed_run(variant, s, "latent.zarr") for s in seeds],
        "distance": [distance(variant, s, g) for g in steering(cfg) for s in seeds],
        "pixel": [run(variant, g, s, "pixel.zarr") for g in sigmas(cfg) for s in seeds],
        "decomposition": [seed_run(variant, s, "decomposition.zarr") for s in seeds],
    }


def attack_losses(cfg: Mapping) -> list[str]:
    """The attack objectives of the loss ablation (squiggles.ablations.attack_loss); none
    by default."""
    return list(cfg["squiggles"].get("ablations", {}).get("attack_loss", []))


def loss_run(variant: str, sig, seed, loss: str, name: str) -> str:
    """A latent (``sig`` None) or pixel store of the loss ablation."""
    base = seed_run(variant, seed, "") if sig is None else run(variant, sig, seed, "")
    return f"{base}ablations/loss-{loss}/{name}"


LOSS_METRICS = f"{RES}/ablations/attack_loss_metrics.json"


def loss_inputs(cfg: Mapping, variant: str) -> dict[str, list[str]]:
    """The latent and pixel stores of one analysis variant for the config's loss and then
    each ablation loss (loss-major, then sigma for pixel, then seed)."""
    seeds = cfg["squiggles"]["seeds"]
    own = analysis_inputs(cfg, variant)
    losses = attack_losses(cfg)
    return {
        "latent": own["latent"]
        + [loss_run(variant, None, s, lo, "latent.zarr") for lo in losses for s in seeds],
        "pixel": own["pixel"]
        + [
            loss_run(variant, g, s, lo, "pixel.zarr")
            for lo in losses
            for g in sigmas(cfg)
            for s in seeds
        ],
    }


def by_loss(latent: list, pixel: list, p: Mapping) -> tuple[dict, dict]:
    """Stores (or paths) listed as :func:`loss_inputs` lists them, grouped: latent
    ``{loss: [seed...]}`` and pixel ``{loss: {sigma: [seed...]}}``; ``p`` holds the
    ``losses``, ``sigmas`` and ``seeds`` in that order."""
    k, n_sig = len(p["seeds"]), len(p["sigmas"])
    lat = {lo: latent[i * k : (i + 1) * k] for i, lo in enumerate(p["losses"])}
    pix = {
        lo: {
            float(g): pixel[(i * n_sig + j) * k : (i * n_sig + j + 1) * k]
            for j, g in enumerate(p["sigmas"])
        }
        for i, lo in enumerate(p["losses"])
    }
    return lat, pix


def loss_summary_inputs(cfg: Mapping) -> dict[str, list[str]]:
    """Rule squiggles_loss_summary's named inputs: ``latent_<v>`` and ``pixel_<v>`` of
    :func:`loss_inputs` for each analysis variant."""
    out: dict[str, list[str]] = {}
    for v in cfg["squiggles"]["analysis_variants"]:
        ins = loss_inputs(cfg, v)
        out[f"latent_{v}"], out[f"pixel_{v}"] = ins["latent"], ins["pixel"]
    return out


# kind -> (paper location, caption, key-metric patterns)
_FIGURES = {
    "examples": (
        "Squiggles Fig. 1, Fig. 20, Table 4",
        "Squiggles Fig. 1 (SineNet) / Fig. 20 (Taylor): random test curves of each class, "
        "the computed self-intersection marked (Fig. 27); the title gives the label shares "
        "(Table 4).",
        [r"_self_intersecting_fraction$"],
    ),
    "generalization": (
        "Squiggles Table 6",
        "Squiggles Table 6: accuracy and ROC-AUC of the sigma-0 models within and across "
        "variants, and test accuracy per epoch of every classifier (noise-trained included).",
        [r"/(test|cross_\w+)_(accuracy|roc_auc)$"],
    ),
    "latent": (
        "Squiggles Fig. 9",
        "Squiggles Fig. 9: latent-space (on-manifold) L2 PGD on the sigma-0 model, 100 "
        "steps of eps/25 by default: accuracy against the true label recomputed after the "
        "attack, and the fraction of curves whose true label did not change, per eps.",
        [r"/latent_(best_eps|min_accuracy|unchanged_at_best|accuracy_monotone)$"],
    ),
    "distance": (
        "Squiggles Fig. 8 a-c",
        "Squiggles Fig. 8 a-c: cumulative fraction of attacked test curves within a latent "
        "distance of the true decision boundary (smallest eps at which the attack steered "
        "by the other variant's model flips the true label), for all curves, misclassified "
        "curves and adversarial errors of (a) the latent attack, (b) pixel PGD on the "
        "sigma-0 model and (c) pixel PGD on the noise-trained model.",
        [r"/distance_\w+_(below_min_eps|median)$"],
    ),
    "pixel": (
        "Squiggles Fig. 10",
        "Squiggles Fig. 10: accuracy under pixel-space L2 PGD (solid) and under Gaussian "
        "noise of the same L2 norm (dashed) for models trained with each pixel-noise sigma; "
        "dotted line: the focus eps.",
        [r"/pixel_(pgd|noise)_accuracy_at_focus$", r"/noise_training_explained_fraction$"],
    ),
    "decomposition": (
        "Squiggles Fig. 11",
        "Squiggles Fig. 11: attack vectors (latent attack rendered in pixel space, pixel "
        "PGD on each model) split into their component in the tangent space of the curve "
        "manifold (through the generator's Jacobian) and the rest; bottom: on-manifold "
        "share against a random subspace of equal rank.",
        [
            r"_on_manifold_share_median$",
            r"_random_subspace_share_median$",
            r"_(on|off)_component_fools$",
            r"/tangent_rank_median$",
        ],
    ),
    "errors": (
        "Squiggles Fig. 7 a-d",
        "Squiggles Fig. 7 a-d: generalization errors of the sigma-0 model, latent-space "
        "errors that keep the true label, pixel-space errors of the sigma-0 and of the "
        "noise-trained model; self-intersections marked.",
        [r"-sigma[\d.]+/test_accuracy$", r"/pixel_pgd_accuracy_at_focus$"],
    ),
    "attack_vectors": (
        "Squiggles Fig. 25/26",
        "Squiggles Fig. 25/26: pixel PGD adversarial errors at the focus eps of the sigma-0 "
        "and of each noise-trained model: original, attacked image and attack vector, with "
        "the vector's share of power above half the Nyquist frequency (white noise 0.75, a "
        "checkerboard ~1).",
        [r"/attack_high_frequency_share_median$"],
    ),
    "attack_loss": (
        "Squiggles Fig. 9/10 (ablation)",
        "Attack objective ablation (squiggles.ablations.attack_loss): accuracy under the "
        "latent attack (left) and under pixel PGD per noise level (right) against eps, with "
        "the config's objective (solid) and each other one (dashed); mean over seeds.",
        [r"-loss_\w+/(latent_accuracy_min|pixel_accuracy_at_focus_sigma[\d.]+)$"],
    ),
    "size_sweep": (
        "Squiggles Sec. 4.2 (data ablation); issue 20 item 4",
        "Is it only scale? The sigma-0 model's clean accuracy, the latent attack's accuracy "
        "at its most effective eps and the share of pixel attacks the noise-trained model "
        "resists against the training-set size (one dot per seed; red: the paper's Sec. "
        "4.2 points).",
        [],
    ),
    "resolution": (
        "Squiggles Sec. 4.7, Fig. 12",
        "Higher resolution (Fig. 12): accuracy under pixel PGD against eps of the sigma-0 "
        "and the noise-trained model (left) and under the latent attack (right), at the "
        "study's resolution and at the base one (mean over seeds; dotted: the noise-trained "
        "model's eps scaled with the side, the same perturbation per pixel).",
        [],
    ),
    "fig3": (
        "Squiggles Fig. 3",
        "L2 PGD at growing eps on the same test curves, in pixel space (all steps) and in "
        "latent space (the latent attack's points decoded), with the model's label and, in "
        "latent space, the recomputed true label.",
        [r"/latent_best_eps$"],
    ),
}


def _figure(name: str, kind: str, variant: str, inputs: dict, params: dict) -> Figure:
    paper, caption, patterns = _FIGURES[kind]
    scope = rf"^(?=squiggles/{re.escape(variant)}).*"
    return Figure(
        name=name,
        rule=RULE,
        kind=kind,
        category=CATEGORY,
        subcategory=variant,
        references=REFS,
        paper=paper,
        inputs=inputs,
        params=params,
        caption=f"{variant}: {caption}" if variant else caption,
        key_metrics=tuple(scope + p for p in patterns),
    )


def _metrics_figure(kind: str, variant: str, metrics: str, key: str) -> Figure:
    """A figure drawn from one metrics file (the size sweep's, the resolution study's):
    :func:`_figure` with the metrics file as input and ``squiggles/<key>`` as its key
    metric (outside the variant's ``squiggles/<variant>`` prefix)."""
    fig = _figure(f"squiggles_{variant}_{kind}", kind, variant, {"metrics": metrics},
                  {"variant": variant})  # fmt: skip
    return replace(fig, key_metrics=(rf"^squiggles/{key}$",))


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of this study (the gallery merges them)."""
    sq = cfg["squiggles"]
    own = [f"{RES}/metrics.json"] if sq["variants"] else []
    abl = [LOSS_METRICS] if attack_losses(cfg) and sq["analysis_variants"] else []
    res = [RES_METRICS] if res_active(cfg) else []
    return own + abl + ([SIZE_METRICS] if sweep_active(cfg) else []) + res


def figures(cfg: Mapping) -> list[Figure]:
    sq = cfg["squiggles"]
    seeds, sigs = list(sq["seeds"]), sigmas(cfg)
    out = [
        _figure(
            f"squiggles_{v}_examples",
            "examples",
            v,
            {"data": data(v, "test")},
            {"n": sq["gallery_size"], "seed": sq["data_seed"]},
        )
        for v in sq["variants"]
    ]
    if sq["variants"]:
        out.append(
            _figure(
                "squiggles_generalization", "generalization", "", {"trainings": trainings(cfg)}, {}
            )
        )
    params = {"sigmas": sigs, "seeds": seeds, "n": sq["gallery_size"]}
    fig3_params = {**params, "fig3_samples": sq["fig3_samples"]}
    for v in sq["analysis_variants"]:
        a, s0 = analysis_inputs(cfg, v), seeds[0]
        first = {
            "training": run(v, "0", s0, "training.zarr"),
            "latent_first": seed_run(v, s0, "latent.zarr"),
            "pixel_first": [run(v, g, s0, "pixel.zarr") for g in sigs],
        }
        test = {"data": data(v, "test")}
        inputs = {
            "latent": {"latent": a["latent"]},
            "distance": {k: a[k] for k in ("distance", "latent", "pixel")},
            "pixel": {"pixel": a["pixel"]},
            "decomposition": {"decomposition": a["decomposition"][:1], **test},
            "errors": {**first, **test},
            "attack_vectors": {"pixel_first": first["pixel_first"], **test},
            "fig3": {"fig3": seed_run(v, s0, "fig3.zarr")},
        }
        out += [
            _figure(f"squiggles_{v}_{k}", k, v, inputs[k], fig3_params if k == "fig3" else params)
            for k in KINDS
        ]
        for kind, metrics, key, on in (
            ("size_sweep", SIZE_METRICS, "size_sweep/{v}/by_size", sweep_active(cfg)),
            ("resolution", RES_METRICS, "resolution/{v}/by_factor", res_active(cfg)),
        ):
            if on:
                out.append(_metrics_figure(kind, v, metrics, key.format(v=re.escape(v))))
        if attack_losses(cfg):
            losses = [sq["attack"]["loss"], *attack_losses(cfg)]
            out.append(
                _figure(
                    f"squiggles_{v}_attack_loss",
                    "attack_loss",
                    v,
                    loss_inputs(cfg, v),
                    {**params, "losses": losses},
                )
            )
    return out


def _json(path: str) -> dict:
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text())


def draw(kind: str, inputs, p: Mapping):
    """The matplotlib figure of one of this study's figures, from its inputs."""
    from pipeline_lib.zarr_io import open_store

    from . import plots
    from .experiment import best_latent_eps, trainings_by_model

    def by_sigma(files):
        """sigma (float) -> stores over seeds, from files listed sigma-major then seed."""
        stores, k = [open_store(f) for f in files], len(p["seeds"])
        return {float(g): stores[i * k : (i + 1) * k] for i, g in enumerate(p["sigmas"])}

    if kind == "fig3":
        return plots.fig3_figure(open_store(inputs["fig3"]), p["fig3_samples"])
    if kind == "size_sweep":
        return plots.size_sweep_figure(_json(inputs["metrics"]), p["variant"])
    if kind == "resolution":
        return plots.resolution_figure(_json(inputs["metrics"]), p["variant"])
    if kind == "examples":
        return plots.examples_figure(open_store(inputs["data"]), p["n"], p["seed"])
    if kind == "generalization":
        trainings = [open_store(f) for f in inputs["trainings"]]
        return plots.generalization_figure(trainings_by_model(trainings))
    if kind == "latent":
        return plots.latent_figure([open_store(f) for f in inputs["latent"]])
    if kind == "distance":
        return plots.distance_figure(
            [open_store(f) for f in inputs["distance"]],
            [open_store(f) for f in inputs["latent"]],
            by_sigma(inputs["pixel"]),
        )
    if kind == "pixel":
        return plots.pixel_figure(by_sigma(inputs["pixel"]))
    if kind == "decomposition":
        return plots.decomposition_figure(
            open_store(inputs["decomposition"][0]), open_store(inputs["data"])
        )
    if kind == "attack_loss":
        lat = [open_store(f) for f in inputs["latent"]]
        pix = [open_store(f) for f in inputs["pixel"]]
        return plots.loss_figure(*by_loss(lat, pix, p))
    if kind == "attack_vectors":
        return plots.attack_vectors_figure(
            open_store(inputs["data"]),
            {
                float(g): open_store(f)
                for g, f in zip(p["sigmas"], inputs["pixel_first"], strict=True)
            },
            n=min(p["n"], 4),
        )
    if kind == "errors":
        latent = open_store(inputs["latent_first"])
        best = float(latent["eps"].values[best_latent_eps(latent)])
        return plots.errors_figure(
            open_store(inputs["data"]),
            open_store(inputs["training"]),
            latent,
            {
                float(g): open_store(f)
                for g, f in zip(p["sigmas"], inputs["pixel_first"], strict=True)
            },
            best,
            p["n"],
        )
    raise ValueError(f"unknown Squiggles figure kind {kind!r}")
