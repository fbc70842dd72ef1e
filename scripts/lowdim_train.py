"""Rule lowdim_train: train the 2-layer network, record the boundary at snapshots."""

from pipeline_lib.checkpoints import save as save_checkpoint
from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.experiment import run_experiment
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    ds, ckpt = run_experiment(
        data,
        variant=w.variant,
        seed=int(w.seed),
        hidden=p.model["hidden"],
        output_weights=p.model["output_weights"],
        epochs=p.train["epochs"],
        lr=p.train["lr"],
        weight_decay=p.train["weight_decay"],
        batch_size=p.train["batch_size"],
        adversarial_eps=p.adversarial["eps"] if p.adversarial else None,
        snapshot_epochs=p.snapshot_epochs,
        res=p.res,
        normal_steps=p.normal_steps,
        device=device,
        log=log.info,
        resume=log.resume(),
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    ckpt["provenance"] = prov
    save_checkpoint(ckpt, smk.output.model)
    write_store(
        ds,
        smk.output.store,
        f"decision boundary of the 2-layer network on '{w.manifold}' ({w.variant}, seed "
        f"{w.seed}) at snapshot epochs",
        prov,
    )
