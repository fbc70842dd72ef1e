# Shared helpers: run lists, figure lists, resources.

from pipeline_lib.synthetic import get_manifold

RES = "results"
LOW = config["lowdim"]
GPU = 0 if config["device"] == "cpu" else 1


wildcard_constraints:
    manifold="line|diagonal|plane",
    variant="clean|adversarial|random_labels",
    seed=r"\d+",
    dataset="fashion_mnist|mnist|cifar10",


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
    return figs


def figure_names():
    return list(figure_rules())


def metric_files():
    return [f"{RES}/lowdim/metrics.json"] + [
        f"{RES}/data/{d}_metrics.json" for d in config["natural"]["datasets"]
    ]


FIG = f"{RES}/figures"


def lowdim_data(manifolds):
    return [f"{RES}/lowdim/{m}/data.zarr" for m in manifolds if m in LOW["manifolds"]]
