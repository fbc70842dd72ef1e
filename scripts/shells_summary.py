"""Rule shells_summary: headline numbers of one dataset's shell experiments."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.shells.experiment import study_metrics
from pipeline_lib.zarr_io import group

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, ds = smk.params, smk.wildcards.dataset
    metrics = study_metrics(ds, group(list(smk.input), p.bases, p.seeds))
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
