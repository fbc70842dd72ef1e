# Natural-image datasets (one Zarr store each) and their data-check figure.


rule natural_dataset:
    output:
        directory("results/data/{dataset}.zarr"),
    log:
        "logs/natural_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/natural_dataset/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("natural_dataset"),
        mem_mb=4000,
    params:
        spec=lookup(dpath="natural/{dataset}", within=config),
        seed=config["seed"],
        cache="results/data/cache",
    script:
        "../scripts/natural_dataset.py"


rule figure_natural_samples:
    input:
        "results/data/{dataset}.zarr",
    output:
        figure=report(
            "results/figures/data_{dataset}_samples.png",
            caption="../report/figure.rst",
            category=figure_category,
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
        metrics="results/data/{dataset}_metrics.json",
    log:
        "logs/figures/data_{dataset}_samples.log",
    benchmark:
        "results/benchmarks/figures/data_{dataset}_samples.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_natural_samples"),
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_natural_samples.py"
