"""Rule figure_squiggles_generalization: within/cross-variant accuracy and ROC-AUC
(Table 6) and the training curves of every classifier."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import plots as squiggle_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    groups = {}
    for f in smk.input:
        t = open_store(f)
        groups.setdefault((t.attrs["variant"], float(t.attrs["sigma"])), []).append(t)
    fig = squiggle_plots.generalization_figure(groups)
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
