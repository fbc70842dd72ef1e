"""Rule dmm_classifier: train one classifier variant, keeping per-epoch checkpoints."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import save_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import fit_classifier, save_checkpoints
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    model, kind, kwargs, states, hist = fit_classifier(
        data,
        p.cfg,
        w.variant,
        int(w.seed),
        device,
        adversarial=p.adversarial,
        noise=p.noise,
        log=log.info,
        resume=log.resume(),
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    save_model(model, smk.output.model, kind, kwargs, provenance=prov)
    save_checkpoints(smk.output.checkpoints, kind, kwargs, states, provenance=prov)
    write_store(
        hist,
        smk.output.store,
        f"training curves of the {w.variant} classifier on {w.dataset} (seed {w.seed})",
        prov,
    )
