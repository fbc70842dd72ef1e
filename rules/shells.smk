# Manifold "model shell" defenses (Wu et al.): MCN_delta and NCN_p around a base classifier
# (clean, or L-inf PGD adversarially trained), evaluated as in the paper's Section 5 with a
# transfer attack crafted on the base model and adaptive attacks on the shell (BPDA, and
# APGD / Square where shells.adaptive_attacks lists them).


rule shells_base:
    input:
        "results/data/{dataset}.zarr",
    output:
        model="results/shells/{dataset}/{base}/seed{seed}/model.pt",
        store=directory("results/shells/{dataset}/{base}/seed{seed}/training.zarr"),
    log:
        "logs/shells_base/{dataset}-{base}-seed{seed}.log",
    benchmark:
        "results/benchmarks/shells_base/{dataset}-{base}-seed{seed}.tsv"
    wildcard_constraints:
        base="clean|linf_adv",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("shells_base"),
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lookup(dpath="shells/{dataset}/classifier", within=config),
        adversarial=lambda w: (
            {**config["shells"][w.dataset]["adversarial_training"], "norm": "linf"}
            if w.base == "linf_adv"
            else None
        ),
        device=config["device"],
    script:
        "../scripts/shells_base.py"


rule shells_evaluate:
    input:
        data="results/data/{dataset}.zarr",
        model=shells_model,
    output:
        directory("results/shells/{dataset}/{base}/seed{seed}/evaluation.zarr"),
    log:
        "logs/shells_evaluate/{dataset}-{base}-seed{seed}.log",
    benchmark:
        "results/benchmarks/shells_evaluate/{dataset}-{base}-seed{seed}.tsv"
    wildcard_constraints:
        base="clean|linf_adv",
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("shells_evaluate"),
        mem_mb=4000,
        gpu=GPU,
    params:
        shells=lambda w: shells.shell_configs(config, w.dataset),
        attack=lookup(dpath="shells/{dataset}/attack", within=config),
        adaptive=lookup(dpath="shells/{dataset}/adaptive", within=config),
        extra=lambda w: {
            a: config["shells"][w.dataset][a]
            for a in config["shells"]["adaptive_attacks"]
        },
        n_batches=config["shells"]["n_batches"],
        batch_size=config["shells"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/shells_evaluate.py"


rule shells_summary:
    input:
        lambda w: shells.evaluations(config, w.dataset),
    output:
        "results/shells/{dataset}/metrics.json",
    log:
        "logs/shells_summary/{dataset}.log",
    benchmark:
        "results/benchmarks/shells_summary/{dataset}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("shells_summary"),
        mem_mb=2000,
    params:
        bases=config["shells"]["bases"],
        seeds=config["shells"]["seeds"],
    script:
        "../scripts/shells_summary.py"


rule figure_shells:
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
        figure=figure_names("figure_shells"),
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        runtime=runtime_of("figure_shells"),
        mem_mb=1500,
    params:
        caption=figure_caption,
        draw=figure_draw,
    script:
        "../scripts/figure_shells.py"
