# The reproduction ledger: every claim of the studies' claims registries judged on this
# run's metrics and stores (pipeline_lib.verdicts), as claims.json, claims.tsv and the
# verdict page claims.html; the gallery copies them into figures/.

import os

# The config file a run was given (the last --configfile; else the Snakefile's default),
# recorded in claims.json beside the verdicts.
CONFIG_NAME = (
    os.path.relpath(workflow.overwrite_configfiles[-1], workflow.basedir)
    if workflow.overwrite_configfiles
    else "config/config.yaml"
)


rule claims:
    input:
        metrics=all_metric_files(config),
        stores=ledger.inputs(CLAIMS),
    output:
        json="results/claims/claims.json",
        tsv=report(
            "results/claims/claims.tsv",
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "verdicts"},
        ),
        html=report(
            "results/claims/claims.html",
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "verdict page"},
        ),
    log:
        "logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("claims"),
        mem_mb=2000,
    params:
        # every claim reads the config (deviations, evidence): any config change re-judges
        config=config,
        config_name=CONFIG_NAME,
        figures=list(FIGURES),
    script:
        "../scripts/claims.py"
