"""Rule shells_evaluate: the paper's Section 5 protocol on one base model, with the MCN /
NCN shells under transfer and adaptive (BPDA, APGD, Square) attacks."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import split
from pipeline_lib.studies.shells.experiment import evaluate
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input.data)
    x_te, y_te, _ = split(data, "test")
    model = load_model(smk.input.model)
    store = evaluate(
        model,
        x_te,
        y_te,
        shells=dict(p.shells),
        attack=dict(p.attack),
        adaptive=dict(p.adaptive),
        extra={a: dict(c) for a, c in p.extra.items()},
        n_batches=p.n_batches,
        batch_size=p.batch_size,
        seed=int(w.seed),
        device=device,
        log=log.info,
    )
    store.attrs.update({"dataset": w.dataset, "base": w.base})
    write_store(
        store,
        smk.output[0],
        f"MCN/NCN shells around the {w.base} {w.dataset} model (seed {w.seed}): base, "
        "transfer and adaptive attacks",
        log.provenance(
            device,
            config={"model": str(smk.input.model)},
            data_provenance=data.attrs["provenance"]["config"],
        ),
    )
