# Manifold "model shell" defenses (Wu et al.): MCN_delta and NCN_p around a base classifier
# (clean, or L-inf PGD adversarially trained), evaluated as in the paper's Section 5 with a
# transfer attack crafted on the base model and an adaptive BPDA attack on the shell.


rule shells_base:
    input:
        f"{RES}/data/{{dataset}}.zarr",
    output:
        model=shells_run("{dataset}", "{base}", "{seed}", "model.pt"),
        store=directory(shells_run("{dataset}", "{base}", "{seed}", "training.zarr")),
    log:
        "logs/shells_base/{dataset}-{base}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/shells_base/{{dataset}}-{{base}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        cfg=lambda w: SHELLS[w.dataset]["classifier"],
        adversarial=lambda w: (
            {**SHELLS[w.dataset]["adversarial_training"], "norm": "linf"}
            if w.base == "linf_adv"
            else None
        ),
        device=config["device"],
    script:
        "../scripts/shells_base.py"


rule shells_evaluate:
    input:
        data=f"{RES}/data/{{dataset}}.zarr",
        model=shells_model,
    output:
        directory(shells_run("{dataset}", "{base}", "{seed}", "evaluation.zarr")),
    log:
        "logs/shells_evaluate/{dataset}-{base}-seed{seed}.log",
    benchmark:
        f"{RES}/benchmarks/shells_evaluate/{{dataset}}-{{base}}-seed{{seed}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        gpu=GPU,
    params:
        shells=lambda w: {
            s: {"kind": s, **SHELLS[w.dataset][s]} for s in SHELLS["shells"]
        },
        attack=lambda w: SHELLS[w.dataset]["attack"],
        adaptive=lambda w: SHELLS[w.dataset]["adaptive"],
        n_batches=SHELLS["n_batches"],
        batch_size=SHELLS["batch_size"],
        device=config["device"],
    script:
        "../scripts/shells_evaluate.py"


rule shells_summary:
    input:
        lambda w: shells_evaluations(w.dataset),
    output:
        f"{RES}/shells/{{dataset}}/metrics.json",
    log:
        "logs/shells_summary/{dataset}.log",
    benchmark:
        f"{RES}/benchmarks/shells_summary/{{dataset}}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        bases=SHELLS["bases"],
        seeds=SHELLS["seeds"],
    script:
        "../scripts/shells_summary.py"
