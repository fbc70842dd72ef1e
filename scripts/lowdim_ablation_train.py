"""Rule lowdim_ablation_train: one App. C sensitivity run (lr, output weights, loss)."""

from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.experiment import run_experiment
from pipeline_lib.studies.lowdim.registry import parse_setting
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    s = parse_setting(w.setting)
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    ds, _ = run_experiment(
        data,
        variant="clean",
        seed=int(w.seed),
        hidden=p.model["hidden"],
        output_weights=s["output_weights"],
        epochs=p.train["epochs"],
        lr=s["lr"],
        weight_decay=p.train["weight_decay"],
        batch_size=p.train["batch_size"],
        adversarial_eps=None,
        snapshot_epochs=[0, p.train["epochs"]],
        res=p.res,
        normal_steps=p.normal_steps,
        device=device,
        log=log.info,
        loss=s["loss"],
        resume=log.resume(),
    )
    ds.attrs["setting"] = w.setting
    write_store(
        ds,
        smk.output[0],
        f"App. C sensitivity run on '{w.manifold}' ({w.setting}, seed {w.seed}): boundary at "
        "init and after the last epoch",
        log.provenance(device, data_provenance=data.attrs["provenance"]["config"]),
    )
