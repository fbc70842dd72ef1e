# Natural-image Dimpled-Manifold ablations (config dmm.ablations; config/ablations.yaml):
# manifold dimension and autoencoder training length, where the tangent space is taken,
# and the Fig. 6 boundary distance with sub-epoch checkpoints and a second architecture.
# Files equal to a default one are the default job's (ablation_registry): the default
# autoencoder and tangents, the default clean classifiers and their attack stores.

from pipeline_lib.studies.dmm import ablation_registry as dmm_abl


rule dmm_ablation_autoencoder:
    input:
        "results/data/{dataset}.zarr",
    output:
        model="results/dmm/{dataset}/ablations/manifold/k{k}-e{epochs}/autoencoder.pt",
        store=directory(
            "results/dmm/{dataset}/ablations/manifold/k{k}-e{epochs}/autoencoder.zarr"
        ),
    log:
        "logs/dmm_ablation_autoencoder/{dataset}-k{k}-e{epochs}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_autoencoder/{dataset}-k{k}-e{epochs}.tsv"
    wildcard_constraints:
        k=r"\d+",
        epochs=r"\d+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_autoencoder"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: dmm_abl.autoencoder_settings(config, w.dataset, w.k, w.epochs),
        seed=config["seed"],
        device=config["device"],
        description=lambda w: (
            f"autoencoder of {w.dataset} with k = {w.k}, {w.epochs} epochs (DMM ablation): "
            "training loss and per-image test reconstruction errors"
        ),
    script:
        "../scripts/dmm_autoencoder.py"


rule dmm_ablation_tangents:
    input:
        data="results/data/{dataset}.zarr",
        model=lambda w: dmm_abl.autoencoder(config, w.dataset, w.k, w.epochs),
    output:
        directory(
            "results/dmm/{dataset}/ablations/manifold/k{k}-e{epochs}/{at}/tangents.zarr"
        ),
    log:
        "logs/dmm_ablation_tangents/{dataset}-k{k}-e{epochs}-{at}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_tangents/{dataset}-k{k}-e{epochs}-{at}.tsv"
    wildcard_constraints:
        k=r"\d+",
        epochs=r"\d+",
        at="reconstruction|projected",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_tangents"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n_samples=lambda w: dmm.n_samples(config, w.dataset),
        classes=lookup(dpath="dmm/{dataset}/autoencoder/classes", within=config),
        projection=config["dmm"]["ablations"]["projection"],
        device=config["device"],
    script:
        "../scripts/dmm_ablation_tangents.py"


rule dmm_ablation_attacks:
    input:
        model=lambda w: dmm.run(w.dataset, "clean", w.seed, "model.pt"),
        tangents=lambda w: dmm_abl.tangents(config, w.dataset, w.k, w.epochs, w.at),
    output:
        directory(
            "results/dmm/{dataset}/ablations/manifold/k{k}-e{epochs}/{at}/seed{seed}/attacks.zarr"
        ),
    log:
        "logs/dmm_ablation_attacks/{dataset}-k{k}-e{epochs}-{at}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_attacks/{dataset}-k{k}-e{epochs}-{at}-seed{seed}.tsv"
    wildcard_constraints:
        k=r"\d+",
        epochs=r"\d+",
        at="reconstruction|projected",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_attacks"),
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
            f"regular, on- and off-manifold attacks on the clean {w.dataset} classifier "
            f"(seed {w.seed}) with the manifold k = {w.k}, {w.epochs} epochs, tangents at "
            f"{w.at} (DMM ablation)"
        ),
    script:
        "../scripts/dmm_attacks.py"


rule dmm_ablation_classifier:
    input:
        "results/data/{dataset}.zarr",
    output:
        checkpoints="results/dmm/{dataset}/ablations/boundary/{arch}/seed{seed}/checkpoints.pt",
        store=directory(
            "results/dmm/{dataset}/ablations/boundary/{arch}/seed{seed}/training.zarr"
        ),
    log:
        "logs/dmm_ablation_classifier/{dataset}-{arch}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_classifier/{dataset}-{arch}-seed{seed}.tsv"
    wildcard_constraints:
        arch="mlp|convnet|resnet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_classifier"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: dmm_abl.classifier_settings(config, w.dataset, w.arch),
        points=config["dmm"]["ablations"]["first_epoch_points"],
        device=config["device"],
    script:
        "../scripts/dmm_ablation_classifier.py"


rule dmm_ablation_distance:
    input:
        data="results/data/{dataset}.zarr",
        checkpoints="results/dmm/{dataset}/ablations/boundary/{arch}/seed{seed}/checkpoints.pt",
    output:
        directory(
            "results/dmm/{dataset}/ablations/boundary/{arch}/seed{seed}/distance.zarr"
        ),
    log:
        "logs/dmm_ablation_distance/{dataset}-{arch}-seed{seed}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_distance/{dataset}-{arch}-seed{seed}.tsv"
    wildcard_constraints:
        arch="mlp|convnet|resnet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_distance"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="dmm/{dataset}/distance", within=config),
        n_samples=config["dmm"]["distance_samples"],
        device=config["device"],
    script:
        "../scripts/dmm_ablation_distance.py"


rule dmm_ablation_summary:
    input:
        unpack(lambda w: dmm_abl.summary_inputs(config, w.dataset)),
    output:
        "results/dmm/{dataset}/ablations/metrics.json",
    log:
        "logs/dmm_ablation_summary/{dataset}.log",
    benchmark:
        "results/benchmarks/dmm_ablation_summary/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("dmm_ablation_summary"),
        mem_mb=4000,
    params:
        settings=lambda w: [list(s) for s in dmm_abl.settings(config, w.dataset)],
        seeds=dmm_abl.seeds(config),
        archs=dmm_abl.archs(config),
    script:
        "../scripts/dmm_ablation_summary.py"


rule figure_dmm_ablation:
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
        figure=figure_names("figure_dmm_ablation"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_dmm_ablation"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_dmm_ablation.py"
