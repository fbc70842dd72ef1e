# The gallery: every figure of the config with its registry caption and key metrics.


rule gallery:
    input:
        figures=[fig.path for fig in FIGURES.values()],
        metrics=all_metric_files(config),
        claims=rules.claims.output.json,
        claims_tsv=rules.claims.output.tsv,
        claims_html=rules.claims.output.html,
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
        runtime=runtime_of("gallery"),
        mem_mb=1500,
    params:
        figures=[fig.gallery_entry() for fig in FIGURES.values()],
    script:
        "../scripts/gallery.py"
