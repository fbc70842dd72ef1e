"""Rule figure_shells_success: attack success on base, transfer and adaptive, per base."""

from pipeline_lib import plotting, shell_plots
from pipeline_lib.dmm import group
from pipeline_lib.runtime import rule_context
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    fig = shell_plots.success_figure(group(list(smk.input), p.bases, p.seeds, open_store))
    plotting.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
