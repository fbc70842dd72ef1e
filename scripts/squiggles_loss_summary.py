"""Rule squiggles_loss_summary: the attack-objective ablation's numbers (the config's
objective and each other one, latent and pixel attacks)."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import loss_ablation_metrics
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    k, n_sig, metrics = len(p.seeds), len(p.sigmas), {}
    for v in p.variants:
        lat = [open_store(f) for f in smk.input[f"latent_{v}"]]
        pix = [open_store(f) for f in smk.input[f"pixel_{v}"]]
        latent = {lo: lat[i * k : (i + 1) * k] for i, lo in enumerate(p.losses)}
        pixel = {
            lo: {
                float(g): pix[(i * n_sig + j) * k : (i * n_sig + j + 1) * k]
                for j, g in enumerate(p.sigmas)
            }
            for i, lo in enumerate(p.losses)
        }
        metrics |= loss_ablation_metrics(v, latent, pixel)
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
