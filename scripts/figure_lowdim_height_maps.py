"""Rule figure_lowdim_height_maps."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim import plots as plotting
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk):
    fig = plotting.height_maps(open_store(smk.input.data[0]), open_store(smk.input.runs[0]))
    viz.save(fig, smk.output[0])
