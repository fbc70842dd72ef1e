"""Rule lowdim_dataset: labelled points on a synthetic manifold -> Zarr."""

from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.synthetic import make_lowdim_dataset
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    name = smk.wildcards.manifold
    ds = make_lowdim_dataset(name, probes=p.probes, seed=p.seed, **p.data)
    log.info("%s: %d points, %d probes", name, ds.sizes["sample"], ds.sizes["probe"])
    write_store(
        ds,
        smk.output[0],
        f"labelled points on the synthetic manifold '{name}' with its exact tangent basis",
        log.provenance(),
    )
