# Boundary tilting in linear classifiers (Tanay & Griffin): a hinge-loss L2 SVM on two
# classes of a natural-image dataset over a log-spaced sweep of regularisation strengths,
# and the 2-D vs high-dimensional toy of the article's Fig. 3/4.


rule tilting_sweep:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        directory(f"{RES}/tilting/{{dataset}}/sweep.zarr"),
    log:
        "logs/tilting_sweep/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/tilting_sweep/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        classes=lambda w: TILT[w.dataset]["classes"],
        lambdas=TILT["lambdas"],
        probe_index=TILT["probe_index"],
        max_projected=TILT["max_projected"],
        max_iter=TILT["max_iter"],
        tol=TILT["tol"],
        seed=config["seed"],
    script:
        "../scripts/tilting_sweep.py"


rule tilting_toy:
    output:
        directory(f"{RES}/tilting/toy.zarr"),
    log:
        "logs/tilting_toy.log",
    benchmark:
        f"{RES}/benchmarks/tilting_toy.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        toy=TILT["toy"],
        max_iter=TILT["max_iter"],
        tol=TILT["tol"],
        seed=config["seed"],
    script:
        "../scripts/tilting_toy.py"


rule tilting_summary:
    input:
        sweeps=[f"{RES}/tilting/{d}/sweep.zarr" for d in TILT["datasets"]],
        toy=f"{RES}/tilting/toy.zarr",
    output:
        f"{RES}/tilting/metrics.json",
    log:
        "logs/tilting_summary.log",
    benchmark:
        f"{RES}/benchmarks/tilting_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        datasets=TILT["datasets"],
    script:
        "../scripts/tilting_summary.py"
