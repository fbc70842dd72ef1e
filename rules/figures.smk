# Figures (PNG under results/figures/) and the gallery that assembles figures/.


rule figure_lowdim_clinging:
    input:
        summary=f"{RES}/lowdim/summary.zarr",
    output:
        report(
            f"{FIG}/dmm_lowdim_clinging.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_clinging.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_clinging.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_lowdim_clinging.py"


rule figure_lowdim_boundary_2d:
    input:
        data=lowdim_data(LINES),
        runs=lowdim_figure_runs(LINES, ["clean"]),
    output:
        report(
            f"{FIG}/dmm_lowdim_boundary_2d.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_boundary_2d.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_boundary_2d.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_lowdim_boundary_2d.py"


rule figure_lowdim_height_maps:
    input:
        data=lowdim_data(["plane"]),
        runs=lowdim_figure_runs(["plane"], ["clean"]),
    output:
        report(
            f"{FIG}/dmm_lowdim_height_maps.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_height_maps.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_height_maps.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_lowdim_height_maps.py"


rule figure_lowdim_gradients:
    input:
        data=lowdim_data(LOW["manifolds"]),
        runs=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
    output:
        report(
            f"{FIG}/dmm_lowdim_gradients.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_gradients.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_gradients.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_lowdim_gradients.py"


rule figure_lowdim_adversarial:
    input:
        data=lowdim_data(LOW["manifolds"]),
        clean=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
        other=lowdim_figure_runs(LOW["manifolds"], ["adversarial"]),
    output:
        report(
            f"{FIG}/dmm_lowdim_adversarial.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_adversarial.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_adversarial.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        title="adversarial (1-step L2 PGD)",
    script:
        "../scripts/figure_lowdim_compare.py"


rule figure_lowdim_random_labels:
    input:
        data=lowdim_data(LOW["manifolds"]),
        clean=lowdim_figure_runs(LOW["manifolds"], ["clean"]),
        other=lowdim_figure_runs(LOW["manifolds"], ["random_labels"]),
    output:
        report(
            f"{FIG}/dmm_lowdim_random_labels.png",
            caption="../report/figure.rst",
            category="Low-dimensional DMM (Sec. 6)",
        ),
    log:
        "logs/figures/dmm_lowdim_random_labels.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_lowdim_random_labels.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        title="random labels (control)",
    script:
        "../scripts/figure_lowdim_compare.py"


rule figure_natural_samples:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        figure=report(
            f"{FIG}/data_{{dataset}}_samples.png",
            caption="../report/figure.rst",
            category="Data",
            subcategory="{dataset}",
        ),
        metrics=f"{RES}/data/{{dataset}}_metrics.json",
    log:
        "logs/figures/data_{dataset}_samples.log",
    benchmark:
        f"{RES}/benchmarks/figures/data_{{dataset}}_samples.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_natural_samples.py"


rule figure_dmm:
    input:
        unpack(dmm_figure_inputs),
    output:
        report(
            f"{FIG}/dmm_{{dataset}}_{{what}}.png",
            caption="../report/figure.rst",
            category="Natural-image DMM",
            subcategory="{dataset}",
        ),
    log:
        "logs/figures/dmm_{dataset}_{what}.log",
    benchmark:
        f"{RES}/benchmarks/figures/dmm_{{dataset}}_{{what}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        variants=DMM_VARIANTS,
        attack_variants=DMM_ATTACK_VARIANTS,
        seeds=DMM["seeds"],
        schemes=DMM["mislabeled"]["schemes"],
        figure_seed=DMM["figure_seed"],
        gallery_samples=DMM["gallery_samples"],
    script:
        "../scripts/figure_dmm.py"


rule figure_tilting:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        sweep=f"{RES}/tilting/{{dataset}}/sweep.zarr",
    output:
        report(
            f"{FIG}/tilting_{{dataset}}_{{tilt_what}}.png",
            caption="../report/figure.rst",
            category="Boundary tilting",
            subcategory="{dataset}",
        ),
    log:
        "logs/figures/tilting_{dataset}_{tilt_what}.log",
    benchmark:
        f"{RES}/benchmarks/figures/tilting_{{dataset}}_{{tilt_what}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_tilting.py"


rule figure_tilting_toy:
    input:
        f"{RES}/tilting/toy.zarr",
    output:
        report(
            f"{FIG}/tilting_toy.png",
            caption="../report/figure.rst",
            category="Boundary tilting",
        ),
    log:
        "logs/figures/tilting_toy.log",
    benchmark:
        f"{RES}/benchmarks/figures/tilting_toy.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_tilting_toy.py"


rule figure_shells_success:
    input:
        lambda w: shells_evaluations(w.dataset),
    output:
        report(
            f"{FIG}/shells_{{dataset}}_success.png",
            caption="../report/figure.rst",
            category="Model shells (MCN / NCN)",
            subcategory="{dataset}",
        ),
    log:
        "logs/figures/shells_{dataset}_success.log",
    benchmark:
        f"{RES}/benchmarks/figures/shells_{{dataset}}_success.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        bases=SHELLS["bases"],
        seeds=SHELLS["seeds"],
    script:
        "../scripts/figure_shells_success.py"


rule figure_shells_gallery:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        store=shells_run(
            "{dataset}", "{base}", SHELLS["figure_seed"], "evaluation.zarr"
        ),
    output:
        report(
            f"{FIG}/shells_{{dataset}}_{{base}}_{{shell}}_gallery.png",
            caption="../report/figure.rst",
            category="Model shells (MCN / NCN)",
            subcategory="{dataset}",
        ),
    log:
        "logs/figures/shells_{dataset}_{base}_{shell}_gallery.log",
    benchmark:
        f"{RES}/benchmarks/figures/shells_{{dataset}}_{{base}}_{{shell}}_gallery.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        gallery_samples=SHELLS["gallery_samples"],
    script:
        "../scripts/figure_shells_gallery.py"


rule figure_squiggles_examples:
    input:
        sq_data("{sqv}", "test"),
    output:
        report(
            f"{FIG}/squiggles_{{sqv}}_examples.png",
            caption="../report/figure.rst",
            category="Squiggles",
            subcategory="{sqv}",
        ),
    log:
        "logs/figures/squiggles_{sqv}_examples.log",
    benchmark:
        f"{RES}/benchmarks/figures/squiggles_{{sqv}}_examples.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        n=SQ["gallery_size"],
        seed=SQ["data_seed"],
    script:
        "../scripts/figure_squiggles_examples.py"


rule figure_squiggles_generalization:
    input:
        sq_trainings(),
    output:
        report(
            f"{FIG}/squiggles_generalization.png",
            caption="../report/figure.rst",
            category="Squiggles",
        ),
    log:
        "logs/figures/squiggles_generalization.log",
    benchmark:
        f"{RES}/benchmarks/figures/squiggles_generalization.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
    script:
        "../scripts/figure_squiggles_generalization.py"


rule figure_squiggles:
    input:
        unpack(sq_figure_inputs),
    output:
        report(
            f"{FIG}/squiggles_{{sqv}}_{{sq_what}}.png",
            caption="../report/figure.rst",
            category="Squiggles",
            subcategory="{sqv}",
        ),
    log:
        "logs/figures/squiggles_{sqv}_{sq_what}.log",
    benchmark:
        f"{RES}/benchmarks/figures/squiggles_{{sqv}}_{{sq_what}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        caption=figure_caption,
        sigmas=SQ_SIGMAS,
        seeds=SQ["seeds"],
        n=SQ["gallery_size"],
    script:
        "../scripts/figure_squiggles.py"


rule gallery:
    input:
        figures=[f"{FIG}/{name}.png" for name in figure_names()],
        metrics=metric_files(),
    output:
        directory("figures"),
    log:
        "logs/gallery.log",
    benchmark:
        f"{RES}/benchmarks/gallery.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        names=figure_names(),
        rules=figure_rules(),
    script:
        "../scripts/gallery.py"
