"""Rule dmm_ablation_classifier: a clean classifier of one architecture with sub-epoch
checkpoints in the first epoch (Fig. 6 ablation)."""

from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.ablations import fit_classifier_subepoch
from pipeline_lib.studies.dmm.experiment import save_checkpoints
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    _, kind, kwargs, states, epochs, hist = fit_classifier_subepoch(
        data, p.cfg, int(w.seed), p.points, device, log=log.info, resume=log.resume()
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    save_checkpoints(
        smk.output.checkpoints, kind, kwargs, states, epochs=epochs.tolist(), provenance=prov
    )
    write_store(
        hist,
        smk.output.store,
        f"test accuracy per checkpoint of the {w.arch} {w.dataset} classifier (seed {w.seed}) "
        "with sub-epoch checkpoints (DMM ablation)",
        prov,
    )
