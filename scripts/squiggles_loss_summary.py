"""Rule squiggles_loss_summary: the attack-objective ablation's numbers (the config's
objective and each other one, latent and pixel attacks)."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import loss_ablation_metrics
from pipeline_lib.studies.squiggles.registry import by_loss
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, metrics = smk.params, {}
    layout = {"losses": p.losses, "sigmas": p.sigmas, "seeds": p.seeds}
    for v in p.variants:
        lat = [open_store(f) for f in smk.input[f"latent_{v}"]]
        pix = [open_store(f) for f in smk.input[f"pixel_{v}"]]
        metrics |= loss_ablation_metrics(v, *by_loss(lat, pix, layout))
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
