"""Rule squiggles_res_summary: the resolution study's points (Sec. 4.7: clean accuracy
of both models, latent attack accuracy at its most effective eps, pixel PGD accuracy at
the focus eps and at the focus eps x factor) per factor and seed, and its curves ->
metrics.json."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import resolution_metrics
from pipeline_lib.studies.squiggles.registry import RES_FILES
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    files = iter(smk.input)  # per point: RES_FILES in order
    points = {
        v: [(f, seed, {k: open_store(next(files)) for k in RES_FILES}) for f, seed in pts]
        for v, pts in p.points.items()
    }
    metrics = resolution_metrics(points, p.n, p.focus, p.base)
    for v in points:
        for f, stats in metrics[f"squiggles/resolution/{v}/by_factor"].items():
            log.info("%s x%s: %s", v, f, {k: s["mean"] for k, s in stats.items()})
    write_json(metrics, smk.output[0])
