"""Rule dmm_ablation_attacks: the default attack stage (Table 1/2 measurements) on a
clean classifier, with the tangent bases of one ablation setting."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import attack_store
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    store = attack_store(
        load_model(smk.input.model),
        open_store(smk.input.tangents),
        p.attacks,
        int(w.seed),
        device,
        path_steps=p.path_steps,
        object_threshold=p.object_threshold,
        log=log.info,
    )
    write_store(
        store,
        smk.output[0],
        f"regular, on- and off-manifold attacks on the clean {w.dataset} classifier (seed "
        f"{w.seed}) with the manifold k = {w.k}, {w.epochs} epochs, tangents at {w.at} "
        "(DMM ablation)",
        log.provenance(device),
    )
