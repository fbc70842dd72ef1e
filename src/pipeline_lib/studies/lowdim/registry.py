"""The low-dimensional Dimpled-Manifold study's registry: its result paths and figures.

Imported when the Snakefile is parsed: nothing numerical at module level; the drawings
import the plots lazily.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.figures import Figure

RES = "results/lowdim"
RULE = "figure_lowdim"
CATEGORY = "Low-dimensional DMM (Sec. 6)"
REFS = ("dmm",)


# kind -> the function of this study's plots module that draws it
PLOTS = {
    "clinging": "clinging_curves",
    "separation": "separation",
    "boundary_2d": "boundary_evolution_2d",
    "height_maps": "height_maps",
    "gradients": "gradients",
    "compare": "compare_final",
    "ablation": "ablation_sensitivity",
}


def data(manifold: str) -> str:
    return f"{RES}/{manifold}/data.zarr"


def run(manifold: str, variant: str, seed) -> str:
    return f"{RES}/{manifold}/{variant}/seed{seed}/boundary.zarr"


def runs(cfg: Mapping) -> list[str]:
    """Every training run's store, manifold-major, then variant, then seed."""
    low = cfg["lowdim"]
    return [run(m, v, s) for m in low["manifolds"] for v in low["variants"] for s in low["seeds"]]


def walls(manifold: str) -> str:
    """The walls baseline's store (Voronoi walls perpendicular to the manifold)."""
    return f"{RES}/{manifold}/walls.zarr"


def all_walls(cfg: Mapping) -> list[str]:
    return [walls(m) for m in cfg["lowdim"]["manifolds"]]


# ---- the App. C sensitivity ablation (config lowdim.ablations; config/ablations.yaml)
ABL = f"{RES}/ablations"


def ablation_setting(lr: float, output_weights: str, loss: str) -> str:
    """The wildcard naming one ablation setting, e.g. ``lr0.02-sign-bce``."""
    return f"lr{float(lr):g}-{output_weights}-{loss}"


def parse_setting(setting: str) -> dict:
    """``lr0.02-sign-bce`` -> ``{"lr": 0.02, "output_weights": "sign", "loss": "bce"}``."""
    lr, ow, loss = setting.rsplit("-", 2)
    return {"lr": float(lr.removeprefix("lr")), "output_weights": ow, "loss": loss}


def ablation_settings(cfg: Mapping) -> list[str]:
    a = cfg["lowdim"].get("ablations", {})
    return [
        ablation_setting(lr, ow, loss)
        for lr in a.get("lr", [])
        for ow in a.get("output_weights", [])
        for loss in a.get("loss", [])
    ]


def ablation_on(cfg: Mapping) -> bool:
    return bool(cfg["lowdim"].get("ablations", {}).get("manifolds")) and bool(
        ablation_settings(cfg)
    )


def ablation_run(manifold: str, setting: str, seed) -> str:
    return f"{ABL}/{manifold}/{setting}/seed{seed}/boundary.zarr"


def ablation_runs(cfg: Mapping) -> list[str]:
    a = cfg["lowdim"].get("ablations", {})
    if not ablation_on(cfg):
        return []
    return [
        ablation_run(m, st, s)
        for m in a["manifolds"]
        for st in ablation_settings(cfg)
        for s in a["seeds"]
    ]


ABLATION_SUMMARY = f"{ABL}/summary.zarr"
ABLATION_METRICS = f"{ABL}/metrics.json"


def _figure_runs(low: Mapping, manifolds, variant: str) -> list[str]:
    """Run stores drawn in the boundary figures (figure_seed only), manifold-major."""
    return [run(m, variant, low["figure_seed"]) for m in manifolds if m in low["manifolds"]]


def _datas(low: Mapping, manifolds) -> list[str]:
    return [data(m) for m in manifolds if m in low["manifolds"]]


# figure -> (kind, paper location, caption, key-metric patterns)
_FIGURES = {
    "clinging": (
        "clinging",
        "DMM Sec. 6 (no curve in the paper)",
        "Clinging curves (DMM Sec. 6; the paper shows no such curve for its synthetic runs). "
        "Top: mean Euclidean distance from the manifold to the decision boundary after each "
        "snapshot epoch, with the walls baseline (dotted black: Voronoi walls perpendicular to "
        "the manifold between clusters, the picture the paper argues against, which scores "
        "low on this metric too; see the separation figure); middle: mean angle between the "
        "input gradient at the training points and the manifold (90° = perpendicular; dashed "
        "= isotropic random direction); bottom: training accuracy. "
        "Mean ± sd over seeds, for clean training, single-step L2 PGD adversarial training "
        "and the random-label controls (per point and per cluster).",
        (r"/[a-z]+-\w+/boundary_distance_(initial|final)$", r"-walls/boundary_distance$"),
    ),
    "separation": (
        "separation",
        "DMM Sec. 3, Fig. 1 (no such measure in the paper)",
        "Clinging or walls? The clinging metric cannot tell a boundary that runs along the "
        "manifold from walls perpendicular to it between clusters. Left: share of the "
        "manifold (probe grid) over which the boundary runs within a distance d along the "
        "normal, above or below, at the last snapshot (mean ± sd over seeds); the walls "
        "baseline (black) crosses the manifold only between clusters, so its share is near "
        "0. Right: distribution of the signed normal offset from the manifold to the "
        "boundary (share of probes per bin, pooled over seeds; probes whose normal line "
        "meets no boundary in the cube are in no bin).",
        (r"-\w+/share_within_[0-9.]+(_final)?$",),
    ),
    "ablation": (
        "ablation",
        "App. C (sensitivity; config lowdim.ablations)",
        "Does App. C's setting train this network? One row per manifold, one line per setting "
        "(SGD lr - fixed output weights: sign = {-1,+1}, uniform = U[-1,1] - loss: bce, mse of "
        "the sigmoid, hinge), one point per seed, after the last epoch: training accuracy "
        "(dashed: the 'trains' threshold), mean distance from the manifold to the boundary, "
        "and the share of the manifold with the boundary within 0.05 along the normal.",
        (r"^dmm_lowdim_ablation/.*-lr0\.02-.*/train_accuracy$",),
    ),
    "boundary_2d": (
        "boundary_2d",
        "DMM Fig. 5a",
        "DMM Fig. 5a: the 1D decision boundary (zero level of the logit) in [0,1]^2 at each "
        "snapshot epoch, light grey = early, black = late; green = data manifold; red/blue = "
        "training points of the two classes.",
        (r"/(line|diagonal)-clean/(boundary_distance_final|train_accuracy)$",),
    ),
    "height_maps": (
        "height_maps",
        "DMM Fig. 5b, Fig. 1 (right)",
        "DMM Fig. 5b / Fig. 1 (right): for the plane z = 0.5 in [0,1]^3, the height z(x,y) of "
        "the decision boundary above or below each point of the manifold, per epoch, as a "
        "topographic map (black contour: z = 0.5); bottom: the final boundary in 3D.",
        (r"/plane-clean/(boundary_distance_final|dimple_depth|train_accuracy)$",),
    ),
    "gradients": (
        "gradients",
        "DMM Fig. 24, App. E.1",
        "DMM Fig. 24 / App. E.1: normalised input gradients of the logit at the training points "
        "after the last epoch (arrows), with the decision boundary. The paper says these point "
        "roughly perpendicular to the manifold; the title gives the measured mean angle.",
        (r"-clean/gradient_angle_deg$", r"/random_direction_angle_deg$"),
    ),
    "adversarial": (
        "compare",
        "DMM Fig. 3",
        "DMM Fig. 3: final boundaries of a clean network and of the same network (same "
        "initialisation) adversarially trained with single-step L2 PGD. Dimple depth = mean "
        "|offset along the normal| from the training points to the boundary.",
        (
            r"/dimple_depth_ratio_adversarial_over_clean$",
            r"-(clean|adversarial)/(dimple_depth|gradient_angle_deg)$",
        ),
    ),
    "random_labels": (
        "compare",
        "",
        "Control the paper lacks: the same network and points, trained on random labels (one "
        "coin flip per point). If clinging came from the data manifold alone, the boundary "
        "would cling here too. Per-point flips put a boundary between almost every pair of "
        "neighbouring points, under either picture; see the per-cluster control.",
        (r"-random_labels/(boundary_distance_final|train_accuracy|test_accuracy)$",),
    ),
    "random_clusters": (
        "compare",
        "",
        "Label-coherent control the paper lacks: the same network and points, trained with "
        "one random class per cluster (a seeded random permutation of the clusters' classes). "
        "Unlike per-point coin flips it does not force a boundary through the manifold "
        "between neighbouring points.",
        (r"-random_clusters/(boundary_distance_final|share_within_[0-9.]+_final)$",),
    ),
}
# the compared variant's title in the figures of kind "compare"
_TITLES = {
    "adversarial": "adversarial (1-step L2 PGD)",
    "random_labels": "random labels per point (control)",
    "random_clusters": "random labels per cluster (control)",
}


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of this study (the gallery merges them); the ablation's
    only when it is configured."""
    return [f"{RES}/metrics.json"] + ([ABLATION_METRICS] if ablation_on(cfg) else [])


def figures(cfg: Mapping) -> list[Figure]:
    low = cfg["lowdim"]
    mans, variants = low["manifolds"], low["variants"]
    lines = [m for m in mans if m in ("line", "diagonal")]

    def boundaries(manifolds, variant="clean"):
        return {"data": _datas(low, manifolds), "runs": _figure_runs(low, manifolds, variant)}

    inputs = {
        "clinging": {"summary": f"{RES}/summary.zarr"},
        "separation": {"summary": f"{RES}/summary.zarr"},
    }
    if "clean" in variants:
        if lines:
            inputs["boundary_2d"] = boundaries(lines)
        if "plane" in mans:
            inputs["height_maps"] = boundaries(["plane"])
        inputs["gradients"] = boundaries(mans)
        for other in ("adversarial", "random_labels", "random_clusters"):
            if other in variants:
                runs = boundaries(mans)
                inputs[other] = {
                    "data": runs["data"],
                    "clean": runs["runs"],
                    "other": _figure_runs(low, mans, other),
                }
    if ablation_on(cfg):
        inputs["ablation"] = {"summary": ABLATION_SUMMARY}
    out = []
    for key, ins in inputs.items():
        kind, paper, caption, keys = _FIGURES[key]
        out.append(
            Figure(
                name=f"dmm_lowdim_{key}",
                rule=RULE,
                kind=kind,
                category=CATEGORY,
                references=REFS,
                paper=paper,
                inputs=ins,
                params={"title": _TITLES[key]} if key in _TITLES else {},
                caption=caption,
                key_metrics=keys,
            )
        )
    return out


def draw(kind: str, inputs, params: Mapping):
    """The matplotlib figure of one of this study's figures, from its opened inputs."""
    from pipeline_lib.zarr_io import open_store

    from . import plots

    def pairs(*keys):
        return list(zip(*([open_store(f) for f in inputs[k]] for k in keys), strict=True))

    if kind == "clinging":
        return plots.clinging_curves(open_store(inputs["summary"]))
    if kind == "separation":
        return plots.separation(open_store(inputs["summary"]))
    if kind == "ablation":
        return plots.ablation_sensitivity(open_store(inputs["summary"]))
    if kind == "boundary_2d":
        return plots.boundary_evolution_2d(pairs("data", "runs"))
    if kind == "height_maps":
        return plots.height_maps(open_store(inputs["data"][0]), open_store(inputs["runs"][0]))
    if kind == "gradients":
        return plots.gradients(pairs("data", "runs"))
    if kind == "compare":
        return plots.compare_final(pairs("data", "clean", "other"), params["title"])
    raise ValueError(f"unknown low-dimensional figure kind {kind!r}")


def grid_res(cfg: Mapping, manifold: str) -> int:
    """Grid points per axis for this manifold's input dimension (2D or 3D)."""
    from .synthetic import get_manifold

    grid = cfg["lowdim"]["grid"]
    return grid["res_2d"] if get_manifold(manifold).n == 2 else grid["res_3d"]
