# Natural-image Dimpled-Manifold experiments (DMM Sec. 5, 6, 7; App. D, E, F, H, I).
# dataset -> autoencoder -> tangent bases; dataset -> classifiers (per-epoch checkpoints)
# -> attacks / distance curves / mislabeled-data experiment -> summary metrics.


rule dmm_autoencoder:
    input:
        "results/data/{dataset}.zarr",
    output:
        model="results/dmm/{dataset}/autoencoder.pt",
        store=directory("results/dmm/{dataset}/autoencoder.zarr"),
    log:
        "logs/dmm_autoencoder/{dataset}.log",
    benchmark:
        "results/benchmarks/dmm_autoencoder/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_autoencoder"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="dmm/{dataset}/autoencoder", within=config),
        seed=config["seed"],
        device=config["device"],
        description=lambda w: (
            f"autoencoder of {w.dataset}: training loss and per-image test reconstruction "
            "errors"
        ),
    script:
        "../scripts/dmm_autoencoder.py"


rule dmm_tangents:
    input:
        data="results/data/{dataset}.zarr",
        model="results/dmm/{dataset}/autoencoder.pt",
    output:
        directory("results/dmm/{dataset}/tangents.zarr"),
    log:
        "logs/dmm_tangents/{dataset}.log",
    benchmark:
        "results/benchmarks/dmm_tangents/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_tangents"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n_samples=lambda w: dmm.n_samples(config, w.dataset),
        classes=lookup(dpath="dmm/{dataset}/autoencoder/classes", within=config),
        device=config["device"],
    script:
        "../scripts/dmm_tangents.py"


rule dmm_classifier:
    input:
        "results/data/{dataset}.zarr",
    output:
        model="results/dmm/{dataset}/{variant}/seed{seed}/model.pt",
        checkpoints="results/dmm/{dataset}/{variant}/seed{seed}/checkpoints.pt",
        store=directory("results/dmm/{dataset}/{variant}/seed{seed}/training.zarr"),
    log:
        "logs/dmm_classifier/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_classifier/{dataset}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="clean|adversarial|noise|random_labels",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_classifier"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="dmm/{dataset}/classifier", within=config),
        adversarial=lambda w: (
            config["dmm"][w.dataset]["adversarial_training"]
            if w.variant == "adversarial"
            else None
        ),
        noise=lambda w: (
            config["dmm"][w.dataset]["noise_training"]
            if w.variant == "noise"
            else None
        ),
        device=config["device"],
    script:
        "../scripts/dmm_classifier.py"


rule dmm_pretrained:
    input:
        data="results/data/{dataset}.zarr",
        weights=lambda w: dmm.pretrained_weights(config, w.dataset),
    output:
        "results/dmm/{dataset}/pretrained/seed0/model.pt",
    log:
        "logs/dmm_pretrained/{dataset}.log",
    benchmark:
        "results/benchmarks/dmm_pretrained/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_pretrained"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="dmm/{dataset}/pretrained", within=config),
        device=config["device"],
    script:
        "../scripts/dmm_pretrained.py"


rule dmm_distance:
    input:
        data="results/data/{dataset}.zarr",
        checkpoints="results/dmm/{dataset}/{variant}/seed{seed}/checkpoints.pt",
    output:
        directory("results/dmm/{dataset}/{variant}/seed{seed}/distance.zarr"),
    log:
        "logs/dmm_distance/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_distance/{dataset}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="clean|adversarial|noise|random_labels",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_distance"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="dmm/{dataset}/distance", within=config),
        n_samples=config["dmm"]["distance_samples"],
        device=config["device"],
    script:
        "../scripts/dmm_distance.py"


rule dmm_attacks:
    input:
        model="results/dmm/{dataset}/{variant}/seed{seed}/model.pt",
        tangents="results/dmm/{dataset}/tangents.zarr",
    output:
        directory("results/dmm/{dataset}/{variant}/seed{seed}/attacks.zarr"),
    log:
        "logs/dmm_attacks/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_attacks/{dataset}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="clean|adversarial|noise|pretrained",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_attacks"),
        mem_mb=4000,
        gpu=GPU,
    params:
        attacks=lambda w: {
            k: config["dmm"][w.dataset][k] for k in ("attack", "constrained", "linf")
        },
        path_steps=config["dmm"]["path_steps"],
        object_threshold=config["dmm"]["object_threshold"],
        device=config["device"],
        description=lambda w: (
            f"regular, on- and off-manifold attacks on the {w.variant} {w.dataset} "
            f"classifier (seed {w.seed}) with projection ratios and effects"
        ),
    script:
        "../scripts/dmm_attacks.py"


rule dmm_controls:
    input:
        model="results/dmm/{dataset}/{variant}/seed{seed}/model.pt",
        tangents="results/dmm/{dataset}/tangents.zarr",
        attacks="results/dmm/{dataset}/{variant}/seed{seed}/attacks.zarr",
    output:
        directory("results/dmm/{dataset}/{variant}/seed{seed}/controls.zarr"),
    log:
        "logs/dmm_controls/{dataset}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_controls/{dataset}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="clean|adversarial|noise|pretrained",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_controls"),
        mem_mb=4000,
        gpu=GPU,
    params:
        attacks=lambda w: {
            k: config["dmm"][w.dataset][k] for k in ("attack", "constrained")
        },
        object_threshold=config["dmm"]["object_threshold"],
        device=config["device"],
    script:
        "../scripts/dmm_controls.py"


rule dmm_mislabeled:
    input:
        data="results/data/{dataset}.zarr",
        n1=lambda w: (
            []
            if w.scheme == "two_class"
            else dmm.run(w.dataset, "clean", w.seed, "model.pt")
        ),
        baseline=lambda w: dmm.mislabeled_baseline(config, w.dataset, w.scheme, w.seed),
    output:
        directory("results/dmm/{dataset}/mislabeled/{scheme}/seed{seed}.zarr"),
    log:
        "logs/dmm_mislabeled/{dataset}-{scheme}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_mislabeled/{dataset}-{scheme}-seed{seed}.tsv"
    wildcard_constraints:
        scheme="det|rand|two_class",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_mislabeled"),
        mem_mb=4000,
        gpu=GPU,
    params:
        attack=lookup(dpath="dmm/{dataset}/mislabeled_attack", within=config),
        classifier=lookup(dpath="dmm/{dataset}/classifier", within=config),
        two_classes=config["dmm"]["mislabeled"]["two_classes"],
        similarity_samples=config["dmm"]["mislabeled"]["similarity_samples"],
        device=config["device"],
    script:
        "../scripts/dmm_mislabeled.py"


rule dmm_summary:
    input:
        unpack(lambda w: dmm.summary_inputs(config, w.dataset)),
    output:
        "results/dmm/{dataset}/metrics.json",
    log:
        "logs/dmm_summary/{dataset}.log",
    benchmark:
        "results/benchmarks/dmm_summary/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_summary"),
        mem_mb=4000,
    params:
        variants=lambda w: dmm.summary_params(config, w.dataset)["variants"],
        attack_variants=lambda w: dmm.summary_params(config, w.dataset)[
            "attack_variants"
        ],
        distance_variants=lambda w: dmm.summary_params(config, w.dataset)[
            "distance_variants"
        ],
        seeds=lambda w: dmm.summary_params(config, w.dataset)["seeds"],
        schemes=lambda w: dmm.summary_params(config, w.dataset)["schemes"],
    script:
        "../scripts/dmm_summary.py"


rule figure_dmm:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category=figure_category,
            subcategory=figure_subcategory,
            labels=figure_labels,
        ),
    log:
        "logs/figures/{figure}.log",
    benchmark:
        "results/benchmarks/figures/{figure}.tsv"
    wildcard_constraints:
        figure=figure_names("figure_dmm"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_dmm"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_dmm.py"
