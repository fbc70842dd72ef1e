"""Rule dmm_summary: headline numbers of one dataset's DMM experiments -> metrics.json."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import dmm_metrics
from pipeline_lib.zarr_io import group, open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, i = smk.params, smk.input
    metrics = dmm_metrics(
        smk.wildcards.dataset,
        open_store(i.autoencoder),
        open_store(i.tangents),
        trainings=group(i.trainings, p.variants, p.seeds),
        attacks=group(i.attacks, p.attack_variants, p.seeds),
        distances=group(i.distances, p.distance_variants, p.seeds),
        mislabeled=group(i.mislabeled, p.schemes, p.seeds),
        controls=group(i.controls, p.attack_variants, p.seeds),
    )
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
