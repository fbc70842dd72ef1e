"""Rules dmm_attacks and dmm_ablation_attacks: Table 1/2, Fig. 7, Sec. 5.1 and App. H
measurements on one classifier with one set of tangent bases (the store's description
comes from the rule)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import attack_store
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    model = load_model(smk.input.model)
    tangents = open_store(smk.input.tangents)
    store = attack_store(
        model,
        tangents,
        p.attacks,
        int(w.seed),
        device,
        path_steps=p.path_steps,
        object_threshold=p.object_threshold,
        log=log.info,
    )
    write_store(store, smk.output[0], p.description, log.provenance(device))
