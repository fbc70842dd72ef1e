"""Rule figure_lowdim_gradients."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim import plots as plotting
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk):
    pairs = [
        (open_store(d), open_store(r)) for d, r in zip(smk.input.data, smk.input.runs, strict=True)
    ]
    viz.save(plotting.gradients(pairs), smk.output[0])
