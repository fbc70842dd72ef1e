"""Rule tilting_bootstrap: the regularisation sweep refitted on bootstrap resamples of
the training set (bands for Fig. 6, trend claims across training sets)."""

from pipeline_lib.natural import binary_split
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import bootstrap_sweep, lambda_grid, sweep_attrs
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    data = open_store(smk.input[0])
    x_tr, y_tr, x_te, y_te = binary_split(data, p.classes)
    store = bootstrap_sweep(
        x_tr,
        y_tr,
        x_te,
        y_te,
        lambda_grid(p.lambdas),
        p.replicates,
        seed=p.seed,
        max_iter=p.max_iter,
        tol=p.tol,
        log=log.info,
    )
    store.attrs.update(sweep_attrs(data, w.dataset, p.classes))
    write_store(
        store,
        smk.output[0],
        f"linear SVM tilting sweep on {p.replicates} bootstrap resamples of the {w.dataset} "
        f"classes {list(p.classes)} training set",
        log.provenance(data_provenance=data.attrs["provenance"]["config"]),
    )
