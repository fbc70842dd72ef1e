"""Rule lowdim_summary: seed-aggregated curves and metrics of all low-dim runs, beside
the walls baseline of each manifold."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.metrics import lowdim_metrics, summarize_lowdim
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    runs = [open_store(p) for p in smk.input.runs]
    walls = [open_store(p) for p in smk.input.walls]
    summary = summarize_lowdim(runs, walls, smk.params.separation)
    write_store(
        summary,
        smk.output.store,
        "per-run means of the low-dim boundary measurements on (manifold, variant, seed, "
        "epoch), the measures that separate clinging from walls, and the walls baseline",
        log.provenance(config={"runs": [r.attrs["provenance"]["config"] for r in runs]}),
    )
    metrics = lowdim_metrics(summary)
    write_json(metrics, smk.output.metrics)
    log.info("%d metrics", len(metrics))
