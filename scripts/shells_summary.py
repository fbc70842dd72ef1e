"""Rule shells_summary: headline numbers of one dataset's shell experiments."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import group
from pipeline_lib.studies.shells.experiment import shell_metrics
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, ds = smk.params, smk.wildcards.dataset
    runs = group(list(smk.input), p.bases, p.seeds, open_store)
    metrics = {}
    for base in p.bases:
        for key, value in shell_metrics(runs[base]).items():
            metrics[f"shells/{ds}-{base}/{key.replace('/', '_')}"] = value
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
