"""Rule tilting_sweep: linear SVMs on two classes over the regularisation sweep."""

import numpy as np

from pipeline_lib.natural import binary_split
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import (
    check_probe_index,
    lambda_grid,
    sweep,
    sweep_attrs,
)
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    data = open_store(smk.input[0])
    x_tr, y_tr, x_te, y_te = binary_split(data, p.classes)
    check_probe_index(p.probe_index, len(y_te), w.dataset)
    lams = lambda_grid(p.lambdas)
    log.info(
        "%s classes %s: %d train / %d test images, %d features, lambdas %s",
        w.dataset,
        p.classes,
        len(y_tr),
        len(y_te),
        x_tr.shape[1],
        np.array2string(lams),
    )
    store = sweep(
        x_tr,
        y_tr,
        x_te,
        y_te,
        lams,
        p.probe_index,
        seed=p.seed,
        max_iter=p.max_iter,
        tol=p.tol,
        max_projected=p.max_projected,
    )
    for lam, ang, acc, conv in zip(
        lams,
        store.tilting_angle.values,
        store.test_accuracy.values,
        store.converged.values,
        strict=True,
    ):
        log.info("lambda %.3g: angle %.1f deg, test acc %.3f, converged %s", lam, ang, acc, conv)
    store.attrs.update(sweep_attrs(data, w.dataset, p.classes))
    write_store(
        store,
        smk.output[0],
        f"linear SVM tilting sweep on {w.dataset} classes {list(p.classes)}",
        log.provenance(data_provenance=data.attrs["provenance"]["config"]),
    )
