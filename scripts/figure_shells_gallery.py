"""Rule figure_shells_gallery: the points one shell gets wrong (paper Fig. 1/2)."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.shells import plots as shell_plots
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    data = open_store(smk.input.data)
    fig = shell_plots.shell_gallery(
        open_store(smk.input.store),
        smk.wildcards.shell,
        smk.params.gallery_samples,
        class_names=[str(c) for c in data.class_name.values],
    )
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
