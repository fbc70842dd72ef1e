"""Rule squiggles_size_summary: the training-set size sweep's points (clean accuracy,
latent attack accuracy at its most effective eps, noise-explained fraction) per size and
seed -> metrics.json."""

from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import size_sweep_metrics
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    files = iter(smk.input)  # per point: training, latent, pixel0, pixel
    points = {
        v: [(size, seed, tuple(open_store(next(files)) for _ in range(4))) for size, seed in pts]
        for v, pts in p.points.items()
    }
    metrics = size_sweep_metrics(points, p.n)
    for v in points:
        for size, stats in metrics[f"squiggles/size_sweep/{v}/by_size"].items():
            log.info("%s size %s: %s", v, size, {k: s["mean"] for k, s in stats.items()})
    write_json(metrics, smk.output[0])
