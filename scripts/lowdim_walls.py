"""Rule lowdim_walls: the walls baseline (Voronoi walls perpendicular to the manifold)
of one low-dim dataset, measured like a trained network."""

from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.lowdim.walls import walls_experiment
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    data = open_store(smk.input[0])
    ds = walls_experiment(data, res=p.res, normal_steps=p.normal_steps)
    log.info("%s: walls baseline, mean probe distance %.4f", w.manifold, ds.probe_distance.mean())
    write_store(
        ds,
        smk.output[0],
        f"walls baseline on '{w.manifold}': boundary of Voronoi walls between clusters, "
        "perpendicular to the manifold, measured like a network snapshot",
        log.provenance(data_provenance=data.attrs["provenance"]["config"]),
    )
