"""Rules figure_lowdim_adversarial and figure_lowdim_random_labels: clean vs other variant."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim import plots as plotting
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk):
    triples = [
        (open_store(d), open_store(c), open_store(o))
        for d, c, o in zip(smk.input.data, smk.input.clean, smk.input.other, strict=True)
    ]
    viz.save(plotting.compare_final(triples, smk.params.title), smk.output[0])
