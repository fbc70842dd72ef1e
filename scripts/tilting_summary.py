"""Rule tilting_summary: headline numbers of the tilting sweeps, the toy and Fig. 3."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import study_metrics
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    sweeps = {
        ds: open_store(path) for ds, path in zip(smk.params.datasets, smk.input.sweeps, strict=True)
    }
    # one bootstrap store per dataset, in the same order, where tilting.bootstrap > 0
    boots = dict(zip(smk.params.datasets, map(open_store, smk.input.bootstraps), strict=False))
    metrics = study_metrics(sweeps, open_store(smk.input.toy), boots, open_store(smk.input.fig3))
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
