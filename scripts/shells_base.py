"""Rule shells_base: train one base model of the shell defenses (clean or L-inf PGD
adversarial training)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import save_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import fit_classifier
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    variant = "adversarial" if w.base == "linf_adv" else "clean"
    model, kind, kwargs, _, hist = fit_classifier(
        data,
        p.cfg,
        variant,
        int(w.seed),
        device,
        adversarial=p.adversarial,
        log=log.info,
        resume=log.resume(),
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    save_model(model, smk.output.model, kind, kwargs, provenance=prov)
    write_store(
        hist,
        smk.output.store,
        f"training curves of the {w.base} shell base model on {w.dataset} (seed {w.seed})",
        prov,
    )
