"""Rule dmm_ablation_tangents: tangent bases of one ablation manifold, taken at
x' = decode(encode(x)) or at the decoder's point nearest x (wildcard ``at``)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.ablations import location_tangent_store
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input.data, load=False)
    store = location_tangent_store(
        data,
        load_model(smk.input.model),
        p.n_samples,
        device,
        w.at,
        p.projection,
        log=log.info,
        classes=p.classes,
    )
    log.info(
        "mean |x - p| %.3f (p at %s), mean |x - decode(encode(x))| %.3f",
        float(store.location_l2.mean()),
        w.at,
        float(store.reconstruction_l2.mean()),
    )
    write_store(
        store,
        smk.output[0],
        f"tangent bases of the {w.dataset} autoencoder with k = {w.k}, {w.epochs} epochs, "
        f"taken at the {w.at} point of the manifold (DMM ablation)",
        log.provenance(device),
    )
