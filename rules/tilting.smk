# Boundary tilting in linear classifiers (Tanay & Griffin): a hinge-loss L2 SVM on two
# classes of a natural-image dataset over a log-spaced sweep of regularisation strengths,
# and the 2-D vs high-dimensional toy of the article's Fig. 3/4.


rule tilting_sweep:
    input:
        "results/data/{dataset}.zarr",
    output:
        directory("results/tilting/{dataset}/sweep.zarr"),
    log:
        "logs/tilting_sweep/{dataset}.log",
    benchmark:
        "results/benchmarks/tilting_sweep/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("tilting_sweep"),
        mem_mb=4000,
    params:
        classes=lookup(dpath="tilting/{dataset}/classes", within=config),
        lambdas=config["tilting"]["lambdas"],
        probe_index=config["tilting"]["probe_index"],
        max_projected=config["tilting"]["max_projected"],
        max_iter=config["tilting"]["max_iter"],
        tol=config["tilting"]["tol"],
        seed=config["seed"],
    script:
        "../scripts/tilting_sweep.py"


rule tilting_bootstrap:
    input:
        "results/data/{dataset}.zarr",
    output:
        directory("results/tilting/{dataset}/bootstrap.zarr"),
    log:
        "logs/tilting_bootstrap/{dataset}.log",
    benchmark:
        "results/benchmarks/tilting_bootstrap/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("tilting_bootstrap"),
        mem_mb=4000,
    params:
        classes=lookup(dpath="tilting/{dataset}/classes", within=config),
        lambdas=config["tilting"]["lambdas"],
        replicates=config["tilting"]["bootstrap"],
        max_iter=config["tilting"]["max_iter"],
        tol=config["tilting"]["tol"],
        seed=config["seed"],
    script:
        "../scripts/tilting_bootstrap.py"


rule tilting_toy:
    output:
        directory("results/tilting/toy.zarr"),
    log:
        "logs/tilting_toy.log",
    benchmark:
        "results/benchmarks/tilting_toy.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("tilting_toy"),
        mem_mb=1000,
    params:
        toy=config["tilting"]["toy"],
        max_iter=config["tilting"]["max_iter"],
        tol=config["tilting"]["tol"],
        seed=config["seed"],
    script:
        "../scripts/tilting_toy.py"


rule tilting_fig3:
    output:
        directory("results/tilting/fig3.zarr"),
    log:
        "logs/tilting_fig3.log",
    benchmark:
        "results/benchmarks/tilting_fig3.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("tilting_fig3"),
        mem_mb=1000,
    params:
        fig3=config["tilting"]["fig3"],
        toy={
            k: config["tilting"]["toy"][k]
            for k in ("n_per_class", "n_dims", "gap", "bar_length", "noise_std")
        },
        seed=config["seed"],
    script:
        "../scripts/tilting_fig3.py"


rule tilting_summary:
    input:
        sweeps=expand(tilting.sweep("{dataset}"), dataset=config["tilting"]["datasets"]),
        bootstraps=tilting.bootstraps(config),
        toy=tilting.TOY,
        fig3=tilting.FIG3,
    output:
        "results/tilting/metrics.json",
    log:
        "logs/tilting_summary.log",
    benchmark:
        "results/benchmarks/tilting_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("tilting_summary"),
        mem_mb=2000,
    params:
        datasets=config["tilting"]["datasets"],
    script:
        "../scripts/tilting_summary.py"


rule figure_tilting:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category=figure_category,
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    wildcard_constraints:
        figure=figure_names("figure_tilting"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_tilting"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_tilting.py"
