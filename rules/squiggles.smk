# Squiggles (Kindermans & Staats): generated curve images with exact labels, classifiers
# with Gaussian pixel noise, latent- vs pixel-space attacks, distance to the true boundary.


rule squiggles_dataset:
    output:
        directory(sq_data("{sqv}", "{split}")),
    log:
        "logs/squiggles_dataset/{sqv}-{split}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_dataset/{{sqv}}-{{split}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=lambda w: 2000 + SQ[f"n_{w.split}"] * SQ["resolution"] ** 2 * 12 // 2**20,
    params:
        n=lambda w: SQ[f"n_{w.split}"],
        resolution=SQ["resolution"],
        seed=SQ["data_seed"],
        device=config["device"],
    script:
        "../scripts/squiggles_dataset.py"


rule squiggles_train:
    input:
        train=sq_data("{sqv}", "train"),
        tests=[sq_data(v, "test") for v in SQ_VARIANTS],
    output:
        model=sq_run("{sqv}", "{sigma}", "{seed}", "model.pt"),
        store=directory(sq_run("{sqv}", "{sigma}", "{seed}", "training.zarr")),
    log:
        "logs/squiggles_train/{sqv}-sigma{sigma}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_train/{{sqv}}-sigma{{sigma}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=lambda w: 3000 + SQ["n_train"] * SQ["resolution"] ** 2 * 8 // 2**20,
        gpu=GPU,
    params:
        cfg=SQ["classifier"],
        variants=SQ_VARIANTS,
        device=config["device"],
    script:
        "../scripts/squiggles_train.py"


rule squiggles_latent:
    input:
        data=sq_data("{sqv}", "test"),
        model=sq_run("{sqv}", "0", "{seed}", "model.pt"),
    output:
        directory(sq_seed_run("{sqv}", "{seed}", "latent.zarr")),
    log:
        "logs/squiggles_latent/{sqv}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_latent/{{sqv}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        n=SQ["attack"]["n_samples"],
        eps=SQ["attack"]["latent_eps"],
        steps=SQ["attack"]["latent_steps"],
        step_ratio=SQ["attack"]["latent_step_ratio"],
        device=config["device"],
    script:
        "../scripts/squiggles_latent.py"


rule squiggles_distance:
    input:
        data=sq_data("{sqv}", "test"),
        navigator=lambda w: sq_run(sq_other(w.sqv), "0", w.seed, "model.pt"),
    output:
        directory(sq_seed_run("{sqv}", "{seed}", "distance.zarr")),
    log:
        "logs/squiggles_distance/{sqv}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_distance/{{sqv}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        n=SQ["attack"]["n_samples"],
        eps=SQ["attack"]["latent_eps"],
        steps=SQ["attack"]["latent_steps"],
        step_ratio=SQ["attack"]["latent_step_ratio"],
        device=config["device"],
    script:
        "../scripts/squiggles_distance.py"


rule squiggles_pixel:
    input:
        data=sq_data("{sqv}", "test"),
        model=sq_run("{sqv}", "{sigma}", "{seed}", "model.pt"),
    output:
        directory(sq_run("{sqv}", "{sigma}", "{seed}", "pixel.zarr")),
    log:
        "logs/squiggles_pixel/{sqv}-sigma{sigma}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_pixel/{{sqv}}-sigma{{sigma}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        n=SQ["attack"]["n_samples"],
        eps=SQ["attack"]["pixel_eps"],
        steps=SQ["attack"]["pixel_steps"],
        step_ratio=SQ["attack"]["pixel_step_ratio"],
        focus_eps=SQ["attack"]["focus_eps"],
        noise_draws=SQ["attack"]["noise_draws"],
        device=config["device"],
    script:
        "../scripts/squiggles_pixel.py"


rule squiggles_decomposition:
    input:
        data=sq_data("{sqv}", "test"),
        latent=sq_seed_run("{sqv}", "{seed}", "latent.zarr"),
        pixels=lambda w: [sq_run(w.sqv, g, w.seed, "pixel.zarr") for g in SQ_SIGMAS],
        models=lambda w: [sq_run(w.sqv, g, w.seed, "model.pt") for g in SQ_SIGMAS],
    output:
        directory(sq_seed_run("{sqv}", "{seed}", "decomposition.zarr")),
    log:
        "logs/squiggles_decomposition/{sqv}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_decomposition/{{sqv}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        sigmas=SQ_SIGMAS,
        n=SQ["decomposition"]["n_samples"],
        rtol=SQ["decomposition"]["rtol"],
        seed=lambda w: int(w.seed),
        device=config["device"],
    script:
        "../scripts/squiggles_decomposition.py"


rule squiggles_summary:
    input:
        data=[sq_data(v, s) for v in SQ_VARIANTS for s in ("train", "test")],
        trainings=sq_trainings(),
        analysis=[
            f for v in SQ_ANALYSIS for fs in sq_analysis_inputs(v).values() for f in fs
        ],
    output:
        f"{RES}/squiggles/metrics.json",
    log:
        "logs/squiggles_summary/summary.log",
    benchmark:
        f"{RES}/benchmarks/squiggles_summary/summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        variants=SQ_VARIANTS,
        analysis=SQ_ANALYSIS,
        sigmas=SQ_SIGMAS,
        seeds=SQ["seeds"],
    script:
        "../scripts/squiggles_summary.py"
