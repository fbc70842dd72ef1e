"""Rule squiggles_summary: headline numbers of the Squiggles study (Tables 4, 6; Fig. 8-11)."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import (
    discriminator_metrics,
    group_stores,
    squiggle_metrics,
)
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    datas = [open_store(f, load=False) for f in smk.input.data]
    trainings = [open_store(f) for f in smk.input.trainings]
    stores = [open_store(f) for f in smk.input.analysis]
    analysis = {}
    for v in p.analysis:
        mine = [s for s in stores if s.attrs["variant"] == v]
        a = {kind: group_stores(mine, kind) for kind in ("latent", "decomposition")}
        a["distance"] = group_stores(mine, "distance", "steer_sigma", p.steering)
        a["pixel"] = group_stores(mine, "pixel", "sigma", p.sigmas)
        analysis[v] = a
    metrics = squiggle_metrics(datas, trainings, analysis)
    for path in smk.input.discriminator:
        metrics.update(discriminator_metrics(open_store(path)))
    write_json(metrics, smk.output[0])
    log.info("%d metrics", len(metrics))
