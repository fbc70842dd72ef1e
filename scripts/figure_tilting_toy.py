"""Rule figure_tilting_toy: the article's Fig. 3/4 toy in 2 and high dimensions."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting import plots as tilting_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    fig = tilting_plots.toy_figure(open_store(smk.input[0]))
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
