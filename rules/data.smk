# Datasets: synthetic low-dimensional manifolds and natural images, one Zarr store each.


rule lowdim_dataset:
    output:
        directory(f"{RES}/lowdim/{{manifold}}/data.zarr"),
    log:
        "logs/lowdim_dataset/{manifold}.log",
    benchmark:
        f"{RES}/benchmarks/lowdim_dataset/{{manifold}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        data=LOW["data"],
        probes=LOW["grid"]["probes"],
        seed=config["seed"],
    script:
        "../scripts/lowdim_dataset.py"


rule natural_dataset:
    output:
        directory(f"{RES}/data/{{dataset}}.zarr"),
    log:
        "logs/natural_dataset/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/natural_dataset/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        spec=lambda w: config["natural"][w.dataset],
        seed=config["seed"],
        cache=f"{RES}/data/cache",
    script:
        "../scripts/natural_dataset.py"
