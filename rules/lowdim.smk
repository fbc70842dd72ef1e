# Low-dimensional Dimpled-Manifold experiment (DMM Sec. 6, App. C, E.1): synthetic
# manifolds -> small networks trained with snapshots -> boundary geometry -> summary.


rule lowdim_dataset:
    output:
        directory("results/lowdim/{manifold}/data.zarr"),
    log:
        "logs/lowdim_dataset/{manifold}.log",
    benchmark:
        "results/benchmarks/lowdim_dataset/{manifold}.tsv"
    wildcard_constraints:
        manifold="line|diagonal|plane",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_dataset"),
        mem_mb=1000,
    params:
        data=lookup(dpath="lowdim/data", within=config),
        probes=lookup(dpath="lowdim/grid/probes", within=config),
        seed=config["seed"],
    script:
        "../scripts/lowdim_dataset.py"


rule lowdim_train:
    input:
        "results/lowdim/{manifold}/data.zarr",
    output:
        model="results/lowdim/{manifold}/{variant}/seed{seed}/model.pt",
        store=directory("results/lowdim/{manifold}/{variant}/seed{seed}/boundary.zarr"),
    log:
        "logs/lowdim_train/{manifold}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/lowdim_train/{manifold}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        manifold="line|diagonal|plane",
        variant="clean|adversarial|random_labels|random_clusters",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_train"),
        mem_mb=2000,
        gpu=GPU,
    params:
        model=lookup(dpath="lowdim/model", within=config),
        train=lookup(dpath="lowdim/train", within=config),
        adversarial=lambda w: (
            config["lowdim"]["adversarial"] if w.variant == "adversarial" else None
        ),
        snapshot_epochs=sorted(config["lowdim"]["snapshot_epochs"]),
        res=lambda w: lowdim.grid_res(config, w.manifold),
        normal_steps=lookup(dpath="lowdim/grid/normal_steps", within=config),
        device=config["device"],
    script:
        "../scripts/lowdim_train.py"


rule lowdim_walls:
    input:
        "results/lowdim/{manifold}/data.zarr",
    output:
        directory("results/lowdim/{manifold}/walls.zarr"),
    log:
        "logs/lowdim_walls/{manifold}.log",
    benchmark:
        "results/benchmarks/lowdim_walls/{manifold}.tsv"
    wildcard_constraints:
        manifold="line|diagonal|plane",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_walls"),
        mem_mb=1500,
    params:
        res=lambda w: lowdim.grid_res(config, w.manifold),
        normal_steps=lookup(dpath="lowdim/grid/normal_steps", within=config),
    script:
        "../scripts/lowdim_walls.py"


rule lowdim_summary:
    input:
        runs=lowdim.runs(config),
        walls=lowdim.all_walls(config),
    output:
        store=directory("results/lowdim/summary.zarr"),
        metrics="results/lowdim/metrics.json",
    log:
        "logs/lowdim_summary.log",
    benchmark:
        "results/benchmarks/lowdim_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_summary"),
        mem_mb=2000,
    params:
        separation=lookup(dpath="lowdim/separation", within=config),
    script:
        "../scripts/lowdim_summary.py"


# App. C sensitivity (config lowdim.ablations, off by default; config/ablations.yaml):
# lr x output-weight distribution x loss, true labels, boundary at init and at the end.
rule lowdim_ablation_train:
    input:
        "results/lowdim/{manifold}/data.zarr",
    output:
        directory(
            "results/lowdim/ablations/{manifold}/{setting}/seed{seed}/boundary.zarr"
        ),
    log:
        "logs/lowdim_ablation_train/{manifold}-{setting}-seed{seed}.log",
    benchmark:
        "results/benchmarks/lowdim_ablation_train/{manifold}-{setting}-seed{seed}.tsv"
    wildcard_constraints:
        manifold="line|diagonal|plane",
        setting=r"lr[0-9.e+-]+-(sign|uniform)-(bce|mse|hinge)",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_ablation_train"),
        mem_mb=2000,
        gpu=GPU,
    params:
        model=lookup(dpath="lowdim/model", within=config),
        train=lookup(dpath="lowdim/train", within=config),
        res=lambda w: lowdim.grid_res(config, w.manifold),
        normal_steps=lookup(dpath="lowdim/grid/normal_steps", within=config),
        device=config["device"],
    script:
        "../scripts/lowdim_ablation_train.py"


rule lowdim_ablation_summary:
    input:
        lowdim.ablation_runs(config),
    output:
        store=directory("results/lowdim/ablations/summary.zarr"),
        metrics="results/lowdim/ablations/metrics.json",
    log:
        "logs/lowdim_ablation_summary.log",
    benchmark:
        "results/benchmarks/lowdim_ablation_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("lowdim_ablation_summary"),
        mem_mb=2000,
    script:
        "../scripts/lowdim_ablation_summary.py"


rule figure_lowdim:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category=figure_category,
            labels=figure_labels,
        ),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    wildcard_constraints:
        figure=figure_names("figure_lowdim"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_lowdim"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_lowdim.py"
