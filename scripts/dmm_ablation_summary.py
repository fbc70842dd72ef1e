"""Rule dmm_ablation_summary: one dataset's DMM ablation numbers -> metrics.json."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.ablations import boundary_metrics, manifold_metrics
from pipeline_lib.zarr_io import group, open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, i, d = smk.params, smk.input, smk.wildcards.dataset
    settings = [tuple(s) for s in p.settings]
    seeds = p.seeds
    attacks = list(group(i.attacks, [str(s) for s in settings], seeds).values())
    metrics = manifold_metrics(
        d,
        settings,
        [open_store(a) for a in i.autoencoders],
        [open_store(t) for t in i.tangents],
        attacks,
    )
    metrics.update(boundary_metrics(d, group(i.distances, p.archs, seeds)))
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
