"""Rule figure_shells_success: attack success on base, transfer and adaptive, per base."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import group
from pipeline_lib.studies.shells import plots as shell_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    fig = shell_plots.success_figure(group(list(smk.input), p.bases, p.seeds, open_store))
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
