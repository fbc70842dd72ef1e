# Squiggles (Kindermans & Staats): generated curve images with exact labels, classifiers
# with Gaussian pixel noise, latent- vs pixel-space attacks, distance to the true boundary.


rule squiggles_dataset:
    output:
        directory("results/squiggles/data/{variant}-{split}.zarr"),
    log:
        "logs/squiggles_dataset/{variant}-{split}.log",
    benchmark:
        "results/benchmarks/squiggles_dataset/{variant}-{split}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_dataset"),
        mem_mb=lambda w: 2000
        + config["squiggles"][f"n_{w.split}"]
        * config["squiggles"]["resolution"] ** 2
        * 12
        // 2**20,
    params:
        n=lookup(dpath="squiggles/n_{split}", within=config),
        resolution=config["squiggles"]["resolution"],
        seed=config["squiggles"]["data_seed"],
        device=config["device"],
    script:
        "../scripts/squiggles_dataset.py"


rule squiggles_train:
    input:
        # a streamed training split has no store: the job generates its curves
        train=squiggles.train_store(config),
        tests=expand(
            "results/squiggles/data/{v}-test.zarr", v=config["squiggles"]["variants"]
        ),
    output:
        model="results/squiggles/{variant}/sigma{sigma}/seed{seed}/model.pt",
        store=directory(
            "results/squiggles/{variant}/sigma{sigma}/seed{seed}/training.zarr"
        ),
    log:
        "logs/squiggles_train/{variant}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_train/{variant}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_train"),
        mem_mb=squiggles.train_mem_mb(config),
        gpu=GPU,
    params:
        cfg=config["squiggles"]["classifier"],
        variants=config["squiggles"]["variants"],
        stream=squiggles.stream(config),
        n_train=config["squiggles"]["n_train"],
        device=config["device"],
    script:
        "../scripts/squiggles_train.py"


rule squiggles_latent:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma0/seed{seed}/model.pt",
    output:
        directory("results/squiggles/{variant}/seed{seed}/latent.zarr"),
    log:
        "logs/squiggles_latent/{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_latent/{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_latent"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["attack"]["n_samples"],
        eps=config["squiggles"]["attack"]["latent_eps"],
        steps=config["squiggles"]["attack"]["latent_steps"],
        step_ratio=config["squiggles"]["attack"]["latent_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        device=config["device"],
    script:
        "../scripts/squiggles_latent.py"


rule squiggles_distance:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma0/seed{seed}/model.pt",
        navigator=lambda w: squiggles.run(
            squiggles.other(w.variant), w.steer, w.seed, "model.pt"
        ),
    output:
        directory(
            "results/squiggles/{variant}/seed{seed}/distance/steer-sigma{steer}.zarr"
        ),
    log:
        "logs/squiggles_distance/{variant}-seed{seed}-steer{steer}.log",
    benchmark:
        "results/benchmarks/squiggles_distance/{variant}-seed{seed}-steer{steer}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_distance"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["attack"]["n_samples"],
        sample=config["squiggles"]["distance"],
        eps=config["squiggles"]["attack"]["latent_eps"],
        steps=config["squiggles"]["attack"]["latent_steps"],
        step_ratio=config["squiggles"]["attack"]["latent_step_ratio"],
        device=config["device"],
    script:
        "../scripts/squiggles_distance.py"


rule squiggles_pixel:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma{sigma}/seed{seed}/model.pt",
    output:
        directory("results/squiggles/{variant}/sigma{sigma}/seed{seed}/pixel.zarr"),
    log:
        "logs/squiggles_pixel/{variant}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_pixel/{variant}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_pixel"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["attack"]["n_samples"],
        eps=config["squiggles"]["attack"]["pixel_eps"],
        steps=config["squiggles"]["attack"]["pixel_steps"],
        step_ratio=config["squiggles"]["attack"]["pixel_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        focus_eps=config["squiggles"]["attack"]["focus_eps"],
        noise_draws=config["squiggles"]["attack"]["noise_draws"],
        device=config["device"],
    script:
        "../scripts/squiggles_pixel.py"


rule squiggles_decomposition:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        latent="results/squiggles/{variant}/seed{seed}/latent.zarr",
        pixels=expand(
            "results/squiggles/{variant}/sigma{sigma}/seed{seed}/pixel.zarr",
            sigma=squiggles.sigmas(config),
            allow_missing=True,
        ),
        models=expand(
            "results/squiggles/{variant}/sigma{sigma}/seed{seed}/model.pt",
            sigma=squiggles.sigmas(config),
            allow_missing=True,
        ),
    output:
        directory("results/squiggles/{variant}/seed{seed}/decomposition.zarr"),
    log:
        "logs/squiggles_decomposition/{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_decomposition/{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_decomposition"),
        mem_mb=4000,
    params:
        sigmas=squiggles.sigmas(config),
        n=config["squiggles"]["decomposition"]["n_samples"],
        rtol=config["squiggles"]["decomposition"]["rtol"],
        seed=lambda w: int(w.seed),
        device=config["device"],
    script:
        "../scripts/squiggles_decomposition.py"


# Training-set size sweep (squiggles.size_sweep; issue 20 item 4): the analysis
# variants' sigma-0 and noise-trained models at other sizes, their latent attack and
# pixel attacks; the main models are the sweep's point at n_train.


rule squiggles_size_train:
    input:
        train=lambda w: squiggles.size_train_input(config, w.frac, w.variant),
        tests=expand(
            "results/squiggles/data/{v}-test.zarr", v=config["squiggles"]["variants"]
        ),
    output:
        model="results/squiggles/{variant}/frac{frac}/sigma{sigma}/seed{seed}/model.pt",
        store=directory(
            "results/squiggles/{variant}/frac{frac}/sigma{sigma}/seed{seed}/training.zarr"
        ),
    log:
        "logs/squiggles_size_train/{variant}-frac{frac}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_size_train/{variant}-frac{frac}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        frac=r"[0-9.e+-]+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_size_train"),
        mem_mb=squiggles.train_mem_mb(config),
        gpu=GPU,
    params:
        cfg=lambda w: {
            **config["squiggles"]["classifier"],
            "epochs": squiggles.sweep_epochs(config, w.frac),
        },
        variants=config["squiggles"]["variants"],
        stream=lambda w: squiggles.size_stream(config, w.frac),
        n_train=lambda w: squiggles.sweep_size(config, w.frac),
        device=config["device"],
    script:
        "../scripts/squiggles_train.py"


rule squiggles_size_latent:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/frac{frac}/sigma0/seed{seed}/model.pt",
    output:
        directory("results/squiggles/{variant}/frac{frac}/seed{seed}/latent.zarr"),
    log:
        "logs/squiggles_size_latent/{variant}-frac{frac}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_size_latent/{variant}-frac{frac}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        frac=r"[0-9.e+-]+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_size_latent"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["size_sweep"]["n_samples"],
        eps=config["squiggles"]["attack"]["latent_eps"],
        steps=config["squiggles"]["attack"]["latent_steps"],
        step_ratio=config["squiggles"]["attack"]["latent_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        device=config["device"],
    script:
        "../scripts/squiggles_latent.py"


rule squiggles_size_pixel:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/frac{frac}/sigma{sigma}/seed{seed}/model.pt",
    output:
        directory(
            "results/squiggles/{variant}/frac{frac}/sigma{sigma}/seed{seed}/pixel.zarr"
        ),
    log:
        "logs/squiggles_size_pixel/{variant}-frac{frac}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_size_pixel/{variant}-frac{frac}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        frac=r"[0-9.e+-]+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_size_pixel"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["size_sweep"]["n_samples"],
        eps=[config["squiggles"]["attack"]["focus_eps"]],
        steps=config["squiggles"]["attack"]["pixel_steps"],
        step_ratio=config["squiggles"]["attack"]["pixel_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        focus_eps=config["squiggles"]["attack"]["focus_eps"],
        noise_draws=config["squiggles"]["attack"]["noise_draws"],
        device=config["device"],
    script:
        "../scripts/squiggles_pixel.py"


rule squiggles_size_summary:
    input:
        squiggles.sweep_inputs(config),
    output:
        "results/squiggles/size_sweep/metrics.json",
    log:
        "logs/squiggles_size_summary/summary.log",
    benchmark:
        "results/benchmarks/squiggles_size_summary/summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_size_summary"),
        mem_mb=2000,
    params:
        points=lambda w: {
            v: [[size, seed] for size, seed, _ in squiggles.sweep_points(config, v)]
            for v in config["squiggles"]["analysis_variants"]
        },
        n=config["squiggles"]["size_sweep"]["n_samples"],
    script:
        "../scripts/squiggles_size_summary.py"


# Resolution study (squiggles.resolution_study; Sec. 4.7, Fig. 12): the same curves
# rendered at factor x the side, the analysis variants' sigma-0 and noise-trained models
# trained on them, their latent and pixel attacks; the main models are the factor-1 point.


rule squiggles_res_dataset:
    output:
        directory("results/squiggles/res_x{factor}/data/{variant}-{split}.zarr"),
    log:
        "logs/squiggles_res_dataset/x{factor}-{variant}-{split}.log",
    benchmark:
        "results/benchmarks/squiggles_res_dataset/x{factor}-{variant}-{split}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        factor=r"\d+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_res_dataset"),
        mem_mb=lambda w: 2000
        + config["squiggles"][f"n_{w.split}"]
        * squiggles.res_resolution(config, w.factor) ** 2
        * 12
        // 2**20,
    params:
        n=lookup(dpath="squiggles/n_{split}", within=config),
        resolution=lambda w: squiggles.res_resolution(config, w.factor),
        seed=config["squiggles"]["data_seed"],
        device=config["device"],
    script:
        "../scripts/squiggles_dataset.py"


rule squiggles_res_train:
    input:
        train=lambda w: squiggles.res_train_input(config, w.factor, w.variant),
        tests=lambda w: [
            squiggles.res_data(w.factor, v, "test")
            for v in config["squiggles"]["variants"]
        ],
    output:
        model="results/squiggles/res_x{factor}/{variant}/sigma{sigma}/seed{seed}/model.pt",
        store=directory(
            "results/squiggles/res_x{factor}/{variant}/sigma{sigma}/seed{seed}/training.zarr"
        ),
    log:
        "logs/squiggles_res_train/x{factor}-{variant}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_res_train/x{factor}-{variant}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        factor=r"\d+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_res_train"),
        mem_mb=lambda w: squiggles.train_mem_mb(config, w.factor),
        gpu=GPU,
    params:
        cfg=config["squiggles"]["classifier"],
        variants=config["squiggles"]["variants"],
        stream=squiggles.stream(config),
        n_train=config["squiggles"]["n_train"],
        device=config["device"],
    script:
        "../scripts/squiggles_train.py"


rule squiggles_res_latent:
    input:
        data="results/squiggles/res_x{factor}/data/{variant}-test.zarr",
        model="results/squiggles/res_x{factor}/{variant}/sigma0/seed{seed}/model.pt",
    output:
        directory("results/squiggles/res_x{factor}/{variant}/seed{seed}/latent.zarr"),
    log:
        "logs/squiggles_res_latent/x{factor}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_res_latent/x{factor}-{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        factor=r"\d+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_res_latent"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["resolution_study"]["n_samples"],
        eps=config["squiggles"]["attack"]["latent_eps"],
        steps=config["squiggles"]["attack"]["latent_steps"],
        step_ratio=config["squiggles"]["attack"]["latent_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        device=config["device"],
    script:
        "../scripts/squiggles_latent.py"


rule squiggles_res_pixel:
    input:
        data="results/squiggles/res_x{factor}/data/{variant}-test.zarr",
        model="results/squiggles/res_x{factor}/{variant}/sigma{sigma}/seed{seed}/model.pt",
    output:
        directory(
            "results/squiggles/res_x{factor}/{variant}/sigma{sigma}/seed{seed}/pixel.zarr"
        ),
    log:
        "logs/squiggles_res_pixel/x{factor}-{variant}-sigma{sigma}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_res_pixel/x{factor}-{variant}-sigma{sigma}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        factor=r"\d+",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_res_pixel"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["resolution_study"]["n_samples"],
        eps=lambda w: squiggles.res_pixel_eps(config, w.factor),
        steps=config["squiggles"]["attack"]["pixel_steps"],
        step_ratio=config["squiggles"]["attack"]["pixel_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        focus_eps=config["squiggles"]["attack"]["focus_eps"],
        noise_draws=config["squiggles"]["attack"]["noise_draws"],
        device=config["device"],
    script:
        "../scripts/squiggles_pixel.py"


rule squiggles_res_summary:
    input:
        squiggles.res_inputs(config),
    output:
        squiggles.RES_METRICS,
    log:
        "logs/squiggles_res_summary/summary.log",
    benchmark:
        "results/benchmarks/squiggles_res_summary/summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_res_summary"),
        mem_mb=2000,
    params:
        points=lambda w: {
            v: [[f, seed] for f, seed, _ in squiggles.res_points(config, v)]
            for v in config["squiggles"]["analysis_variants"]
        },
        n=config["squiggles"]["resolution_study"]["n_samples"],
        focus=config["squiggles"]["attack"]["focus_eps"],
        base=config["squiggles"]["resolution"],
    script:
        "../scripts/squiggles_res_summary.py"


rule squiggles_fig3:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma0/seed{seed}/model.pt",
        latent="results/squiggles/{variant}/seed{seed}/latent.zarr",
    output:
        directory("results/squiggles/{variant}/seed{seed}/fig3.zarr"),
    log:
        "logs/squiggles_fig3/{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/squiggles_fig3/{variant}-seed{seed}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_fig3"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["fig3_samples"],
        eps=config["squiggles"]["attack"]["pixel_eps"],
        steps=config["squiggles"]["attack"]["pixel_steps"],
        step_ratio=config["squiggles"]["attack"]["pixel_step_ratio"],
        loss=config["squiggles"]["attack"]["loss"],
        device=config["device"],
    script:
        "../scripts/squiggles_fig3.py"


rule squiggles_discriminator:
    output:
        directory("results/squiggles/discriminator.zarr"),
    log:
        "logs/squiggles_discriminator.log",
    benchmark:
        "results/benchmarks/squiggles_discriminator.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_discriminator"),
        mem_mb=4000,
        gpu=GPU,
    params:
        classifier=config["squiggles"]["classifier"],
        resolution=config["squiggles"]["resolution"],
        cfg=config["squiggles"]["discriminator"],
        seed=config["squiggles"]["data_seed"],
        device=config["device"],
    script:
        "../scripts/squiggles_discriminator.py"


rule squiggles_summary:
    input:
        data=squiggles.data_stores(config),
        trainings=squiggles.trainings(config),
        discriminator=squiggles.discriminator(config),
        analysis=[
            f
            for v in config["squiggles"]["analysis_variants"]
            for fs in squiggles.analysis_inputs(config, v).values()
            for f in fs
        ],
    output:
        "results/squiggles/metrics.json",
    log:
        "logs/squiggles_summary/summary.log",
    benchmark:
        "results/benchmarks/squiggles_summary/summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_summary"),
        mem_mb=4000,
    params:
        variants=config["squiggles"]["variants"],
        analysis=config["squiggles"]["analysis_variants"],
        sigmas=squiggles.sigmas(config),
        steering=squiggles.steering(config),
        seeds=config["squiggles"]["seeds"],
    script:
        "../scripts/squiggles_summary.py"


rule figure_squiggles:
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
        figure=figure_names("figure_squiggles"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_squiggles"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_squiggles.py"


# The attack-objective ablation (squiggles.ablations.attack_loss; config/ablations.yaml):
# the latent and pixel attacks again with another objective, beside the default stores.
rule squiggles_latent_loss:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma0/seed{seed}/model.pt",
    output:
        directory(
            "results/squiggles/{variant}/seed{seed}/ablations/loss-{loss}/latent.zarr"
        ),
    log:
        "logs/squiggles_latent_loss/{variant}-seed{seed}-{loss}.log",
    benchmark:
        "results/benchmarks/squiggles_latent_loss/{variant}-seed{seed}-{loss}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        loss="cross_entropy|margin",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_latent_loss"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["attack"]["n_samples"],
        eps=config["squiggles"]["attack"]["latent_eps"],
        steps=config["squiggles"]["attack"]["latent_steps"],
        step_ratio=config["squiggles"]["attack"]["latent_step_ratio"],
        loss=lambda w: w.loss,
        device=config["device"],
    script:
        "../scripts/squiggles_latent.py"


rule squiggles_pixel_loss:
    input:
        data="results/squiggles/data/{variant}-test.zarr",
        model="results/squiggles/{variant}/sigma{sigma}/seed{seed}/model.pt",
    output:
        directory(
            "results/squiggles/{variant}/sigma{sigma}/seed{seed}/ablations/loss-{loss}/pixel.zarr"
        ),
    log:
        "logs/squiggles_pixel_loss/{variant}-sigma{sigma}-seed{seed}-{loss}.log",
    benchmark:
        "results/benchmarks/squiggles_pixel_loss/{variant}-sigma{sigma}-seed{seed}-{loss}.tsv"
    wildcard_constraints:
        variant="taylor|sinenet",
        loss="cross_entropy|margin",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_pixel_loss"),
        mem_mb=4000,
        gpu=GPU,
    params:
        n=config["squiggles"]["attack"]["n_samples"],
        eps=config["squiggles"]["attack"]["pixel_eps"],
        steps=config["squiggles"]["attack"]["pixel_steps"],
        step_ratio=config["squiggles"]["attack"]["pixel_step_ratio"],
        loss=lambda w: w.loss,
        focus_eps=config["squiggles"]["attack"]["focus_eps"],
        noise_draws=config["squiggles"]["attack"]["noise_draws"],
        device=config["device"],
    script:
        "../scripts/squiggles_pixel.py"


rule squiggles_loss_summary:
    input:
        unpack(lambda w: squiggles.loss_summary_inputs(config)),
    output:
        squiggles.LOSS_METRICS,
    log:
        "logs/squiggles_loss_summary.log",
    benchmark:
        "results/benchmarks/squiggles_loss_summary.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("squiggles_loss_summary"),
        mem_mb=2000,
    params:
        variants=config["squiggles"]["analysis_variants"],
        losses=[config["squiggles"]["attack"]["loss"], *squiggles.attack_losses(config)],
        sigmas=squiggles.sigmas(config),
        seeds=config["squiggles"]["seeds"],
    script:
        "../scripts/squiggles_loss_summary.py"
