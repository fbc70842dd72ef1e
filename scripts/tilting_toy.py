"""Rule tilting_toy: the article's Fig. 3/4 toy in 2 and in n_dims dimensions."""

from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import toy_2d_vs_highdim
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    store = toy_2d_vs_highdim(**p.toy, seed=p.seed, max_iter=p.max_iter, tol=p.tol)
    for space in store.space.values:
        for fit in store.fit.values:
            s = store.sel(space=space, fit=fit)
            log.info(
                "%s %s: angle %.1f deg, test acc %.3f",
                space,
                fit,
                float(s.tilting_angle),
                float(s.test_accuracy),
            )
    write_store(
        store,
        smk.output[0],
        "two-bars toy of the tilting article (Fig. 3/4) in 2 and high dimensions",
        log.provenance(),
    )
