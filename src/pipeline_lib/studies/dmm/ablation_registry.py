"""The natural-image DMM ablations' registry (config ``dmm.ablations``): result paths,
metrics files and figures of the sweeps in rules/dmm_ablations.smk.

Every setting equal to the default reuses the default job's file: the default
autoencoder (k and epochs of ``dmm.<dataset>.autoencoder``), its tangent store (bases at
the reconstruction) and the default clean classifiers' attack stores.

Imported when the Snakefile is parsed: nothing numerical at module level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline_lib.figures import Figure

RES = "results/dmm"
RULE = "figure_dmm_ablation"
CATEGORY = "Natural-image DMM ablations"
LOCATIONS = ("reconstruction", "projected")
KINDS = ("manifold", "location", "boundary")
PLOTS = {
    "manifold": "manifold_figure",
    "location": "location_figure",
    "boundary": "boundary_figure",
}


def ablations(cfg: Mapping) -> Mapping:
    return cfg["dmm"]["ablations"]


def epochs_list(cfg: Mapping, dataset: str) -> list[int]:
    """The autoencoder training lengths of the sweep (default: the dataset's own)."""
    return list(ablations(cfg)["autoencoder_epochs"]) or [
        cfg["dmm"][dataset]["autoencoder"]["epochs"]
    ]


def settings(cfg: Mapping, dataset: str) -> list[tuple[int, int, str]]:
    """(k, autoencoder epochs, tangent location) of the manifold sweep, in order."""
    a = ablations(cfg)
    return [(k, e, at) for k in a["k"] for e in epochs_list(cfg, dataset) for at in a["locations"]]


def datasets(cfg: Mapping) -> list[str]:
    """The datasets the ablations run on (``dmm.ablations.datasets``, null: all of
    ``dmm.datasets``)."""
    chosen = ablations(cfg).get("datasets")
    return list(cfg["dmm"]["datasets"] if chosen is None else chosen)


def archs(cfg: Mapping) -> list[str]:
    return list(ablations(cfg)["archs"])


def seeds(cfg: Mapping) -> list[int]:
    return list(ablations(cfg)["seeds"])


def active(cfg: Mapping) -> bool:
    return bool(ablations(cfg)["k"] or archs(cfg))


def _is_default_ae(cfg: Mapping, dataset: str, k, epochs) -> bool:
    ae = cfg["dmm"][dataset]["autoencoder"]
    return int(k) == ae["k"] and int(epochs) == ae["epochs"]


def manifold_dir(dataset: str, k, epochs) -> str:
    return f"{RES}/{dataset}/ablations/manifold/k{k}-e{epochs}"


def autoencoder(cfg: Mapping, dataset: str, k, epochs, name: str = "autoencoder.pt") -> str:
    """The autoencoder (``autoencoder.pt`` or ``autoencoder.zarr``) of k and epochs."""
    if _is_default_ae(cfg, dataset, k, epochs):
        return f"{RES}/{dataset}/{name}"
    return f"{manifold_dir(dataset, k, epochs)}/{name}"


def tangents(cfg: Mapping, dataset: str, k, epochs, at: str) -> str:
    if at == "reconstruction" and _is_default_ae(cfg, dataset, k, epochs):
        return f"{RES}/{dataset}/tangents.zarr"
    return f"{manifold_dir(dataset, k, epochs)}/{at}/tangents.zarr"


def attacks(cfg: Mapping, dataset: str, k, epochs, at: str, seed) -> str:
    """The attack store of one setting on the clean classifier of ``seed``."""
    if at == "reconstruction" and _is_default_ae(cfg, dataset, k, epochs):
        return f"{RES}/{dataset}/clean/seed{seed}/attacks.zarr"
    return f"{manifold_dir(dataset, k, epochs)}/{at}/seed{seed}/attacks.zarr"


def boundary(dataset: str, arch: str, seed, name: str) -> str:
    """A Fig. 6 ablation file: checkpoints.pt, training.zarr or distance.zarr."""
    return f"{RES}/{dataset}/ablations/boundary/{arch}/seed{seed}/{name}"


def metrics_file(dataset: str) -> str:
    return f"{RES}/{dataset}/ablations/metrics.json"


def summary_inputs(cfg: Mapping, dataset: str) -> dict:
    """Every store the summary reads: per setting (autoencoder, tangents), attacks
    setting-major then seed, distances arch-major then seed."""
    st, sd = settings(cfg, dataset), seeds(cfg)
    return {
        "autoencoders": [autoencoder(cfg, dataset, k, e, "autoencoder.zarr") for k, e, _ in st],
        "tangents": [tangents(cfg, dataset, k, e, at) for k, e, at in st],
        "attacks": [attacks(cfg, dataset, k, e, at, s) for k, e, at in st for s in sd],
        "distances": [boundary(dataset, a, s, "distance.zarr") for a in archs(cfg) for s in sd],
    }


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of the configured ablations (none when none is configured)."""
    if not active(cfg):
        return []
    return [metrics_file(d) for d in datasets(cfg)]


def kinds(cfg: Mapping) -> list[str]:
    a = ablations(cfg)
    out = []
    if a["k"]:
        out.append("manifold")
        if len(a["locations"]) > 1:
            out.append("location")
    if a["archs"]:
        out.append("boundary")
    return out


_FIGURES = {
    "manifold": (
        "DMM Table 1, Table 2, Sec. 7.1, App. D",
        "Manifold dimension and quality (issue 19 item 7): against the autoencoder's latent "
        "size k, one line per training length (tangents at x' = decode(encode(x))): the "
        "autoencoder's test reconstruction distance; R(d, M) of greedy L2 PGD perturbations "
        "next to R(d, Q) for a random k-dim subspace and sqrt(n/k); the on-manifold relative "
        "effect E; the distances of regular, on- and off-manifold PGD (mean over seeds of "
        "the per-image means, bars: sd over seeds).",
        [r"/k\d+-e\d+-reconstruction-clean/(norm_ratio|norm_ratio_random_subspace)$"],
    ),
    "location": (
        "DMM App. D.2, Table 1, Table 2",
        "Where the tangent space is taken (issue 19 item 9): at x' = decode(encode(x)) (the "
        "paper) or at D(z*), the decoder's point nearest x (z* by gradient descent on "
        "|D(z) - x|^2 from encode(x)). Per k: the distance from x to that point next to the "
        "attack distance |d|, R(d, M) and the on/off-manifold PGD distance ratio at both "
        "locations.",
        [r"/k\d+-e\d+-\w+/location_l2$", r"-clean/location_over_attack_distance$"],
    ),
    "boundary": (
        "DMM Fig. 6",
        "DMM Fig. 6 beyond one MLP (issue 19 item 10): mean L2 distance from test images to "
        "the decision boundary at initialisation, at sub-epoch checkpoints in the first "
        "epoch and after every later epoch, per architecture (mean ± sd over seeds); left: "
        "the first epoch, right: the whole training; test accuracy per checkpoint.",
        [r"-boundary_\w+/boundary_distance_(initial|first_epoch|min|final)$"],
    ),
}


def figures(cfg: Mapping) -> list[Figure]:
    """The figures of the configured ablations."""
    if not active(cfg):
        return []
    out = []
    for d in datasets(cfg):
        inputs: dict = {"metrics": metrics_file(d)}
        if archs(cfg):
            inputs["distances"] = summary_inputs(cfg, d)["distances"]
        params = {
            "settings": [list(s) for s in settings(cfg, d)],
            "archs": archs(cfg),
            "seeds": seeds(cfg),
        }
        scope = rf"^(?=dmm_ablation/{re.escape(d)}[/-]).*"
        for kind in kinds(cfg):
            paper, caption, patterns = _FIGURES[kind]
            out.append(
                Figure(
                    name=f"dmm_ablation_{d}_{kind}",
                    rule=RULE,
                    kind=kind,
                    category=CATEGORY,
                    subcategory=d,
                    references=("dmm",),
                    paper=paper,
                    inputs=inputs,
                    params={**params, "dataset": d},
                    caption=f"{d}: {caption}",
                    key_metrics=tuple(scope + p.lstrip("^") for p in patterns),
                )
            )
    return out


def autoencoder_settings(cfg: Mapping, dataset: str, k, epochs) -> dict:
    """The dataset's autoencoder settings with the sweep's k and training length."""
    return {**cfg["dmm"][dataset]["autoencoder"], "k": int(k), "epochs": int(epochs)}


def classifier_settings(cfg: Mapping, dataset: str, arch: str) -> dict:
    """The dataset's classifier settings with the sweep's architecture (and length)."""
    abl = cfg["dmm"]["ablations"]
    out = {**cfg["dmm"][dataset]["classifier"], "kind": arch}
    if abl["classifier_epochs"]:
        out["epochs"] = abl["classifier_epochs"]
    return out


def draw(kind: str, inputs, p: Mapping):
    """The matplotlib figure of one ablation figure, from its inputs."""
    import json

    from pipeline_lib.zarr_io import group

    from . import ablation_plots

    with open(inputs["metrics"]) as f:
        metrics = json.load(f)
    settings_ = [tuple(s) for s in p["settings"]]
    if kind == "manifold":
        return ablation_plots.manifold_figure(metrics, p["dataset"], settings_)
    if kind == "location":
        return ablation_plots.location_figure(metrics, p["dataset"], settings_)
    if kind == "boundary":
        runs = group(inputs["distances"], p["archs"], p["seeds"])
        return ablation_plots.boundary_figure(runs)
    raise ValueError(f"unknown DMM ablation figure kind {kind!r}")
