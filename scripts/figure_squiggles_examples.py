"""Rule figure_squiggles_examples: random curves of each class (Fig. 1 / 15 / 20)."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import plots as squiggle_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    fig = squiggle_plots.examples_figure(open_store(smk.input[0]), smk.params.n, smk.params.seed)
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
