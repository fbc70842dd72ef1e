# The gallery: every figure of the config with its registry caption and key metrics.


rule gallery:
    input:
        figures=[fig.path for fig in FIGURES.values()],
        metrics=[
            "results/lowdim/metrics.json",
            *expand(
                "results/data/{dataset}_metrics.json",
                dataset=config["natural"]["datasets"],
            ),
            *expand(
                "results/dmm/{dataset}/metrics.json", dataset=config["dmm"]["datasets"]
            ),
            "results/tilting/metrics.json",
            *expand(
                "results/shells/{dataset}/metrics.json",
                dataset=config["shells"]["datasets"],
            ),
            *(
                ["results/squiggles/metrics.json"]
                if config["squiggles"]["variants"]
                else []
            ),
        ],
    output:
        directory("figures"),
    log:
        "logs/gallery.log",
    benchmark:
        "results/benchmarks/gallery.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        figures=[fig.gallery_entry() for fig in FIGURES.values()],
    script:
        "../scripts/gallery.py"
