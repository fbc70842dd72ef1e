"""Rule tilting_fig3: the article's Fig. 3 as stated, high dimension neither necessary nor
sufficient for adversarial examples (an untilted and a tilted boundary in 2-D and in
n_dims)."""

from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import fig3_panels
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    store = fig3_panels(**p.toy, **p.fig3, seed=p.seed)
    log.info("tilted boundary: %.1f deg from the centroid difference", store.attrs["tilt_deg"])
    for space in store.space.values:
        for kind in store.boundary.values:
            cell = store.sel(space=space, boundary=kind)
            log.info(
                "%s %s: mean test distance %.3f, test accuracy %.3f",
                space,
                kind,
                float(cell.distance.mean()),
                float(cell.correct.mean()),
            )
    write_store(
        store,
        smk.output[0],
        "tilting article Fig. 3 as stated: untilted and tilted boundaries of the same "
        "segments in 2-D and in high dimension, per-test-point distances",
        log.provenance(),
    )
