"""The model-shell study's registry (Wu et al.): its result paths and figures.

Imported when the Snakefile is parsed: nothing numerical at module level; the drawings
import the plots lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline_lib.figures import Figure

RES = "results/shells"
RULE = "figure_shells"
CATEGORY = "Model shells (MCN / NCN)"
REFS = ("wu",)


# kind -> the function of this study's plots module that draws it
PLOTS = {
    "success": "success_figure",
    "gallery": "shell_gallery",
    "delta_sweep": "delta_sweep_figure",
}


def run(dataset: str, base: str, seed, name: str) -> str:
    """A per-base-model file: model.pt, training.zarr, evaluation.zarr."""
    return f"{RES}/{dataset}/{base}/seed{seed}/{name}"


def evaluations(cfg: Mapping, dataset: str) -> list[str]:
    """Evaluation stores of one dataset, base-major then seed."""
    sh = cfg["shells"]
    return [run(dataset, b, s, "evaluation.zarr") for b in sh["bases"] for s in sh["seeds"]]


def sweep_name(factor: float) -> str:
    """Shell name of one delta of the MCN sweep: delta = factor x the attack's eps."""
    return f"mcn-d{float(factor):g}"


def shell_configs(cfg: Mapping, dataset: str) -> dict[str, dict]:
    """Every shell one evaluation runs, by name: the configured shells
    (``shells.shells``, settings from ``shells.<dataset>.<kind>``), then the MCN delta
    sweep (``shells.mcn_delta_factors``: the mcn settings with delta = factor x eps and
    the step capped at delta)."""
    sh = cfg["shells"]
    ds = sh[dataset]
    out = {s: {"kind": s, **ds[s]} for s in sh["shells"]}
    eps = float(ds["attack"]["eps"])
    for f in sh.get("mcn_delta_factors", []):
        delta = float(f) * eps
        out[sweep_name(f)] = {
            "kind": "mcn",
            **ds["mcn"],
            "delta": delta,
            "step": min(float(ds["mcn"]["step"]), delta),
        }
    return out


SWEEP_CAPTION = (
    "The MCN shell's delta sweep: retained clean accuracy, transfer attack success (wrong "
    "at the base attack's point; wrong and changed, the paper's Table 1 metric) and the "
    "adaptive BPDA attack's success against the radius delta of the shell's search, in "
    "units of the attack's eps (at delta >= eps the search can walk back from x_adv to "
    "the clean point); pooled over batches and seeds, Wilson 95% intervals; dotted: the "
    "base attack on the base model."
)
SUCCESS_CAPTION = (
    "Wu et al. Table 1 with an adaptive attack the paper lacks: attack success rate of "
    "L-inf PGD (eps 8/255) on the base model, on the shelled model (MCN, NCN, CW) when the attack "
    "is crafted on the base (transfer, the paper's protocol) and when it targets the shell "
    "itself (BPDA through the shell's search); retained clean accuracy. Dots: batches of "
    "correctly classified test images (paper: 30); bars: mean over batches and seeds."
)
GALLERY_CAPTION = (
    "Wu et al. Fig. 1/2: test points the shell gets wrong: the original image, the shell's "
    "embedding of it, the base model's adversarial example and the shell's embedding of "
    "that, with predictions and confidences."
)


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of this study (the gallery merges them)."""
    return [f"{RES}/{d}/metrics.json" for d in cfg["shells"]["datasets"]]


def _over_bases(cfg, d, name, kind, paper, caption, key_metrics, **params) -> Figure:
    """A figure of every base model's evaluation stores of dataset ``d``."""
    sh = cfg["shells"]
    return Figure(
        name=name,
        rule=RULE,
        kind=kind,
        category=CATEGORY,
        subcategory=d,
        references=REFS,
        paper=paper,
        inputs={"evaluations": evaluations(cfg, d)},
        params={"bases": list(sh["bases"]), "seeds": list(sh["seeds"]), **params},
        caption=f"{d}: {caption}",
        key_metrics=(rf"^(?=shells/{re.escape(d)}-).*" + key_metrics,),
    )


def figures(cfg: Mapping) -> list[Figure]:
    sh = cfg["shells"]
    out = []
    for d in sh["datasets"]:
        out.append(
            _over_bases(
                cfg,
                d,
                f"shells_{d}_success",
                "success",
                "Wu et al. Table 1",
                SUCCESS_CAPTION,
                r"/(base_attack_success_rate|\w+_(transfer|adaptive)_success_rate)$",
                shells=list(sh["shells"]),
            )
        )
        if sh.get("mcn_delta_factors"):
            out.append(
                _over_bases(
                    cfg,
                    d,
                    f"shells_{d}_delta_sweep",
                    "delta_sweep",
                    "Wu et al. Table 1 (extension: delta sweep)",
                    SWEEP_CAPTION,
                    r"/mcn(-d[\d.]+)?_\w+_rate$",
                )
            )
        for b in sh["bases"]:
            for shell in sh["shells"]:
                out.append(
                    Figure(
                        name=f"shells_{d}_{b}_{shell}_gallery",
                        rule=RULE,
                        kind="gallery",
                        category=CATEGORY,
                        subcategory=d,
                        references=REFS,
                        paper="Wu et al. Fig. 1/2",
                        inputs={
                            "data": f"results/data/{d}.zarr",
                            "store": run(d, b, sh["figure_seed"], "evaluation.zarr"),
                        },
                        params={"shell": shell, "gallery_samples": sh["gallery_samples"]},
                        caption=f"{d}, {b} base, {shell.upper()} shell: {GALLERY_CAPTION}",
                    )
                )
    return out


def draw(kind: str, inputs, p: Mapping):
    """The matplotlib figure of one of this study's figures, from its inputs."""
    from pipeline_lib.zarr_io import group, open_store

    from . import plots

    if kind == "success":
        return plots.success_figure(
            group(inputs["evaluations"], p["bases"], p["seeds"]), p.get("shells")
        )
    if kind == "delta_sweep":
        return plots.delta_sweep_figure(group(inputs["evaluations"], p["bases"], p["seeds"]))
    if kind == "gallery":
        data = open_store(inputs["data"])
        return plots.shell_gallery(
            open_store(inputs["store"]),
            p["shell"],
            p["gallery_samples"],
            class_names=[str(c) for c in data.class_name.values],
        )
    raise ValueError(f"unknown shells figure kind {kind!r}")
