"""Rule figure_lowdim_clinging."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim import plots as plotting
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk):
    viz.save(plotting.clinging_curves(open_store(smk.input.summary)), smk.output[0])
