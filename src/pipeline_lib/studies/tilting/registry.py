"""The boundary-tilting study's registry: its result paths and figures.

Imported when the Snakefile is parsed: nothing numerical at module level; the drawings
import the plots lazily.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline_lib.figures import Figure

RES = "results/tilting"
RULE = "figure_tilting"
CATEGORY = "Boundary tilting"
REFS = ("tanay_griffin", "tilting_article")
KINDS = ("angle", "plane", "rotation", "perturbation")


# kind -> the function of this study's plots module that draws it
PLOTS = {
    "angle": "angle_figure",
    "plane": "plane_figure",
    "rotation": "rotation_figure",
    "perturbation": "perturbation_figure",
    "toy": "toy_figure",
    "fig3": "fig3_figure",
}


def sweep(dataset: str) -> str:
    return f"{RES}/{dataset}/sweep.zarr"


def bootstrap(dataset: str) -> str:
    return f"{RES}/{dataset}/bootstrap.zarr"


def bootstraps(cfg: Mapping) -> list[str]:
    """The bootstrap stores of this config (none with tilting.bootstrap 0)."""
    t = cfg["tilting"]
    return [bootstrap(d) for d in t["datasets"]] if t.get("bootstrap", 0) else []


TOY = f"{RES}/toy.zarr"
FIG3 = f"{RES}/fig3.zarr"

# kind -> (paper location, caption, key-metric patterns)
_FIGURES = {
    "angle": (
        "Tilting article Fig. 6",
        "Tilting article Fig. 6: tilting angle between the SVM normal w and the centroid "
        "difference z_hat, mean/median L2 distance of test points to the boundary, accuracy "
        "and the probe perturbation's cosine with the centroid difference, against the L2 "
        "regularisation lambda (log scale); shaded: the 95% band over bootstrap resamples of "
        "the training set (tilting.bootstrap; a resample holds ~63% distinct points, so at "
        "the smallest lambda it overfits, and tilts, a little less than the full set).",
        [
            r"/(tilting_angle_deg|mean_test_distance|test_accuracy)_(low|high)_reg$",
            r"/(angle_spearman_log_lam|best_test_accuracy|best_lam)$",
        ],
    ),
    "plane": (
        "Tilting article Fig. 5",
        "Tilting article Fig. 5: training images projected on the tilting plane (z_hat, n_hat) "
        "at low and high regularisation, with the SVM boundary; the weakly regularised "
        "boundary is tilted towards the data and passes close to it.",
        [r"/tilting_angle_deg_(low|high)_reg$"],
    ),
    "rotation": (
        "Tilting article Fig. 7",
        "Tilting article Fig. 7: the SVM boundary at the smallest and the largest lambda in a "
        "3-D subspace around the centroid difference z_hat (axes: z_hat, the weakly "
        "regularised w's tilting direction n_low, and a third), with the training images; "
        "right: the plane (z_hat, n_low), where the boundary rotates from normal to z_hat "
        "towards the data.",
        [r"/tilting_angle_deg_(low|high)_reg$"],
    ),
    "perturbation": (
        "Tilting article Fig. 6 (images)",
        "Tilting article: the minimal adversarial perturbation of one test image along the "
        "lambda sweep (amplified per image, and signed); at low lambda it looks like noise, "
        "at high lambda like the centroid difference (last panel).",
        [r"/perturbation_cosine_(low|high)_reg$", r"/claim_cosine_to_1$"],
    ),
}


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of this study (the gallery merges them)."""
    return [f"{RES}/metrics.json"]


def figures(cfg: Mapping) -> list[Figure]:
    out = []
    for d in cfg["tilting"]["datasets"]:
        scope = rf"^(?=tilting/{re.escape(d)}/).*"
        for kind in KINDS:
            paper, caption, patterns = _FIGURES[kind]
            out.append(
                Figure(
                    name=f"tilting_{d}_{kind}",
                    rule=RULE,
                    kind=kind,
                    category=CATEGORY,
                    subcategory=d,
                    references=REFS,
                    paper=paper,
                    inputs={
                        "data": f"results/data/{d}.zarr",
                        "sweep": sweep(d),
                        **(
                            {"bootstrap": bootstrap(d)}
                            if kind == "angle" and cfg["tilting"].get("bootstrap", 0)
                            else {}
                        ),
                    },
                    params={"classes": list(cfg["tilting"][d]["classes"])},
                    caption=f"{d}: {caption}",
                    key_metrics=tuple(scope + p for p in patterns),
                )
            )
    out.append(
        Figure(
            name="tilting_toy",
            rule=RULE,
            kind="toy",
            category=CATEGORY,
            references=REFS,
            paper="Tilting article Fig. 3/4",
            inputs={"toy": TOY},
            caption=(
                "Tilting article Fig. 3/4: the same two classes (bars) in 2-D and embedded in "
                "high dimension, each classifier drawn in its own tilting plane: weakly and "
                "strongly regularised SVMs and a hand-tilted boundary that still separates the "
                "training data."
            ),
            key_metrics=(r"^tilting/toy-[^/]+/(tilting_angle_deg|test_accuracy)$",),
        )
    )
    out.append(
        Figure(
            name="tilting_fig3",
            rule=RULE,
            kind="fig3",
            category=CATEGORY,
            references=REFS,
            paper="Tilting article Fig. 3/4",
            inputs={"fig3": FIG3},
            caption=(
                "Tilting article Fig. 3 as stated, high dimension is neither necessary nor "
                "sufficient for adversarial examples: the same two classes in 2-D and in high "
                "dimension with an untilted boundary (the centroid difference) and a tilted "
                "one that still separates them; per-test-point distances to each boundary."
            ),
            key_metrics=(r"^tilting/fig3/[^/]+/(mean_test_distance|test_accuracy)$",),
        )
    )
    return out


def draw(kind: str, inputs, params: Mapping):
    """The matplotlib figure of one of this study's figures, from its inputs."""
    from pipeline_lib.zarr_io import open_store

    from . import plots

    if kind == "toy":
        return plots.toy_figure(open_store(inputs["toy"]))
    if kind == "fig3":
        return plots.fig3_figure(open_store(inputs["fig3"]))
    store = open_store(inputs["sweep"])
    if kind == "angle":
        # a rule's named inputs: "in" on the list itself would test its values, not names
        boot = open_store(inputs["bootstrap"]) if "bootstrap" in inputs.keys() else None
        return plots.angle_figure(store, boot)
    if kind == "rotation":
        from pipeline_lib.natural import binary_split

        x_tr, y_tr, _, _ = binary_split(open_store(inputs["data"]), params["classes"])
        return plots.rotation_figure(store, x_tr, y_tr)
    if kind == "plane":
        return plots.plane_figure(store)
    if kind == "perturbation":
        data = open_store(inputs["data"])
        return plots.perturbation_figure(store, (data.sizes["row"], data.sizes["col"]))
    raise ValueError(f"unknown tilting figure kind {kind!r}")
