"""Rule lowdim_ablation_summary: the App. C sensitivity runs -> summary store + metrics."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.claims import FIT, SAME_DISTANCE
from pipeline_lib.studies.lowdim.metrics import ablation_metrics, summarize_ablation
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    runs = [open_store(p) for p in smk.input]
    summary = summarize_ablation(runs, FIT, SAME_DISTANCE)
    write_store(
        summary,
        smk.output.store,
        "App. C sensitivity of the low-dim network on (manifold, setting, seed), last epoch",
        log.provenance(config={"runs": [r.attrs["provenance"]["config"] for r in runs]}),
    )
    metrics = ablation_metrics(summary)
    write_json(metrics, smk.output.metrics)
    log.info("%d metrics", len(metrics))
