"""Rule figure_tilting: one figure of a dataset's tilting sweep (wildcard ``tilt_what``)."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting import plots as tilting_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    what = smk.wildcards.tilt_what
    store = open_store(smk.input.sweep)
    data = open_store(smk.input.data)
    if what == "angle":
        fig = tilting_plots.angle_figure(store)
    elif what == "plane":
        fig = tilting_plots.plane_figure(store)
    elif what == "perturbation":
        shape = (data.sizes["row"], data.sizes["col"])
        fig = tilting_plots.perturbation_figure(store, shape)
    else:
        raise ValueError(f"unknown tilting figure {what!r}")
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
