# Low-dimensional Dimpled-Manifold experiment (DMM Sec. 6, App. C, E.1).


rule lowdim_train:
    input:
        f"{RES}/lowdim/{{manifold}}/data.zarr",
    output:
        model=f"{RES}/lowdim/{{manifold}}/{{variant}}/seed{{seed}}/model.pt",
        store=directory(
            f"{RES}/lowdim/{{manifold}}/{{variant}}/seed{{seed}}/boundary.zarr"
        ),
    log:
        "logs/lowdim_train/{manifold}-{variant}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/lowdim_train/{{manifold}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        gpu=GPU,
    params:
        model=LOW["model"],
        train=LOW["train"],
        adversarial=lambda w: LOW["adversarial"] if w.variant == "adversarial" else None,
        snapshot_epochs=sorted(LOW["snapshot_epochs"]),
        res=grid_res,
        normal_steps=LOW["grid"]["normal_steps"],
        device=config["device"],
    script:
        "../scripts/lowdim_train.py"


rule lowdim_summary:
    input:
        lowdim_runs(),
    output:
        store=directory(f"{RES}/lowdim/summary.zarr"),
        metrics=f"{RES}/lowdim/metrics.json",
    log:
        "logs/lowdim_summary.log",
    benchmark:
        f"{RES}/benchmarks/lowdim_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    script:
        "../scripts/lowdim_summary.py"
