"""Rule dmm_controls: random-subspace, random-start and clipped-uniform controls (issue 19)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.controls import controls_store
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    store = controls_store(
        load_model(smk.input.model),
        open_store(smk.input.tangents),
        open_store(smk.input.attacks),
        p.attacks,
        int(w.seed),
        device,
        object_threshold=p.object_threshold,
        log=log.info,
    )
    write_store(
        store,
        smk.output[0],
        f"random-subspace, random-start and clipped-uniform controls of the {w.variant} "
        f"{w.dataset} classifier (seed {w.seed})",
        log.provenance(device),
    )
