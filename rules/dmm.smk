# Natural-image Dimpled-Manifold experiments (DMM Sec. 5, 6, 7; App. D, E, F, H, I).
# dataset -> autoencoder -> tangent bases; dataset -> classifiers (per-epoch checkpoints)
# -> attacks / distance curves / mislabeled-data experiment -> summary metrics.


rule dmm_autoencoder:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        model=f"{RES}/dmm/{{dataset}}/autoencoder.pt",
        store=directory(f"{RES}/dmm/{{dataset}}/autoencoder.zarr"),
    log:
        "logs/dmm_autoencoder/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_autoencoder/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: DMM[w.dataset]["autoencoder"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/dmm_autoencoder.py"


rule dmm_tangents:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        model=f"{RES}/dmm/{{dataset}}/autoencoder.pt",
    output:
        directory(f"{RES}/dmm/{{dataset}}/tangents.zarr"),
    log:
        "logs/dmm_tangents/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_tangents/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        n_samples=DMM["n_samples"],
        device=config["device"],
    script:
        "../scripts/dmm_tangents.py"


rule dmm_classifier:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        model=dmm_run("{dataset}", "{variant}", "{seed}", "model.pt"),
        checkpoints=dmm_run("{dataset}", "{variant}", "{seed}", "checkpoints.pt"),
        store=directory(dmm_run("{dataset}", "{variant}", "{seed}", "training.zarr")),
    log:
        "logs/dmm_classifier/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_classifier/{{dataset}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: DMM[w.dataset]["classifier"],
        adversarial=lambda w: (
            DMM[w.dataset]["adversarial_training"]
            if w.variant == "adversarial"
            else None
        ),
        device=config["device"],
    script:
        "../scripts/dmm_classifier.py"


rule dmm_distance:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        checkpoints=dmm_run("{dataset}", "{variant}", "{seed}", "checkpoints.pt"),
    output:
        directory(dmm_run("{dataset}", "{variant}", "{seed}", "distance.zarr")),
    log:
        "logs/dmm_distance/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_distance/{{dataset}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: DMM[w.dataset]["distance"],
        n_samples=DMM["distance_samples"],
        device=config["device"],
    script:
        "../scripts/dmm_distance.py"


rule dmm_attacks:
    input:
        model=dmm_run("{dataset}", "{variant}", "{seed}", "model.pt"),
        tangents=f"{RES}/dmm/{{dataset}}/tangents.zarr",
    output:
        directory(dmm_run("{dataset}", "{variant}", "{seed}", "attacks.zarr")),
    log:
        "logs/dmm_attacks/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_attacks/{{dataset}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        attacks=lambda w: {
            k: DMM[w.dataset][k] for k in ("attack", "constrained", "linf")
        },
        path_steps=DMM["path_steps"],
        object_threshold=DMM["object_threshold"],
        device=config["device"],
    script:
        "../scripts/dmm_attacks.py"


rule dmm_mislabeled:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        n1=lambda w: (
            []
            if w.scheme == "two_class"
            else dmm_run(w.dataset, "clean", w.seed, "model.pt")
        ),
    output:
        directory(f"{RES}/dmm/{{dataset}}/mislabeled/{{scheme}}/seed{{seed}}.zarr"),
    log:
        "logs/dmm_mislabeled/{dataset}-{scheme}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_mislabeled/{{dataset}}-{{scheme}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        attack=lambda w: DMM[w.dataset]["mislabeled_attack"],
        classifier=lambda w: DMM[w.dataset]["classifier"],
        two_classes=DMM["mislabeled"]["two_classes"],
        device=config["device"],
    script:
        "../scripts/dmm_mislabeled.py"


rule dmm_summary:
    input:
        unpack(dmm_summary_inputs),
    output:
        f"{RES}/dmm/{{dataset}}/metrics.json",
    log:
        "logs/dmm_summary/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/dmm_summary/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        variants=DMM_VARIANTS,
        attack_variants=DMM_ATTACK_VARIANTS,
        seeds=DMM["seeds"],
        schemes=DMM["mislabeled"]["schemes"],
    script:
        "../scripts/dmm_summary.py"
