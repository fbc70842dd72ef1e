"""Rule tilting_summary: headline numbers of the tilting sweeps and the toy."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import tilting_metrics, toy_metrics
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    metrics = {}
    for ds, path in zip(smk.params.datasets, smk.input.sweeps, strict=True):
        for key, value in tilting_metrics(open_store(path)).items():
            metrics[f"tilting/{ds}/{key}"] = value
    for key, value in toy_metrics(open_store(smk.input.toy)).items():
        parts = key.split("/")
        where = "-".join(["toy", *parts[:-1]])
        metrics[f"tilting/{where}/{parts[-1]}"] = value
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
