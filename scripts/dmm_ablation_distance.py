"""Rule dmm_ablation_distance: distance from test images to the boundary at every
checkpoint (sub-epoch ones in the first epoch) of one ablation classifier (Fig. 6)."""

from pipeline_lib.checkpoints import load
from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import distance_store, split
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    x, y, ids = split(open_store(smk.input.data), "test")
    n = p.n_samples
    store = distance_store(smk.input.checkpoints, x[:n], y[:n], p.cfg, device, log=log.info)
    epochs = load(smk.input.checkpoints)["epochs"]
    store = store.assign_coords(sample=ids[:n], epoch=epochs)
    store.epoch.attrs["description"] = "training time in epochs (fractions in the first epoch)"
    write_store(
        store,
        smk.output[0],
        f"L2 distance from {w.dataset} test images to the decision boundary of the {w.arch} "
        f"classifier (seed {w.seed}) at every checkpoint (DMM ablation)",
        log.provenance(device),
    )
