# Figures (PNG under results/figures/) and the gallery that assembles figures/.

FIG = f"{RES}/figures"


def lowdim_data(manifolds):
    return [f"{RES}/lowdim/{m}/data.zarr" for m in manifolds if m in LOW["manifolds"]]


rule figure_lowdim_clinging:
    input:
        summary=f"{RES}/lowdim/summary.zarr",
    output:
        f"{FIG}/dmm_lowdim_clinging.png",
    log:
        "logs/figures/dmm_lowdim_clinging.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_clinging.tsv"
    script:
        "../scripts/figure_lowdim_clinging.py"


rule figure_lowdim_boundary_2d:
    input:
        data=lowdim_data(LINES),
        runs=lowdim_figure_runs(LINES, ["clean"]),
    output:
        f"{FIG}/dmm_lowdim_boundary_2d.png",
    log:
        "logs/figures/dmm_lowdim_boundary_2d.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_boundary_2d.tsv"
    script:
        "../scripts/figure_lowdim_boundary_2d.py"


rule figure_lowdim_height_maps:
    input:
        data=lowdim_data(["plane"]),
        runs=lowdim_figure_runs(["plane"], ["clean"]),
    output:
        f"{FIG}/dmm_lowdim_height_maps.png",
    log:
        "logs/figures/dmm_lowdim_height_maps.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_height_maps.tsv"
    script:
        "../scripts/figure_lowdim_height_maps.py"


rule figure_lowdim_gradients:
    input:
        data=lowdim_data(LOW["manifolds"]),
        runs=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
    output:
        f"{FIG}/dmm_lowdim_gradients.png",
    log:
        "logs/figures/dmm_lowdim_gradients.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_gradients.tsv"
    script:
        "../scripts/figure_lowdim_gradients.py"


rule figure_lowdim_adversarial:
    input:
        data=lowdim_data(LOW["manifolds"]),
        clean=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
        other=lowdim_figure_runs(LOW["manifolds"], ["adversarial"]),
    output:
        f"{FIG}/dmm_lowdim_adversarial.png",
    params:
        title="adversarially trained (single-step L2 PGD)",
    log:
        "logs/figures/dmm_lowdim_adversarial.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_adversarial.tsv"
    script:
        "../scripts/figure_lowdim_compare.py"


rule figure_lowdim_random_labels:
    input:
        data=lowdim_data(LOW["manifolds"]),
        clean=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
        other=lowdim_figure_runs(LOW["manifolds"], ["random_labels"]),
    output:
        f"{FIG}/dmm_lowdim_random_labels.png",
    params:
        title="random labels (control)",
    log:
        "logs/figures/dmm_lowdim_random_labels.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_random_labels.tsv"
    script:
        "../scripts/figure_lowdim_compare.py"


rule figure_natural_samples:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        figure=f"{FIG}/data_{{dataset}}_samples.png",
        metrics=f"{RES}/data/{{dataset}}_metrics.json",
    log:
        "logs/figures/data_{dataset}_samples.log",
    benchmark:
        f"{RES}/benchmarks/figures/data_{{dataset}}_samples.tsv"
    script:
        "../scripts/figure_natural_samples.py"


rule gallery:
    input:
        figures=[f"{FIG}/{name}.png" for name in figure_names()],
        metrics=metric_files(),
    output:
        directory("figures"),
    params:
        names=figure_names(),
    log:
        "logs/gallery.log",
    benchmark:
        f"{RES}/benchmarks/gallery.tsv"
    script:
        "../scripts/gallery.py"
