"""Rule tilting_sweep: linear SVMs on two classes over the regularisation sweep."""

import time

import numpy as np

from pipeline_lib.natural import binary_split
from pipeline_lib.provenance import make_provenance
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.tilting.experiment import sweep
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    data = open_store(smk.input[0])
    x_tr, y_tr, x_te, y_te = binary_split(data, p.classes)
    if p.probe_index >= len(y_te):
        raise ValueError(
            f"tilting.probe_index {p.probe_index} is outside the two-class test split of "
            f"{w.dataset} ({len(y_te)} images); allowed: 0..{len(y_te) - 1}"
        )
    lams = np.logspace(np.log10(p.lambdas["min"]), np.log10(p.lambdas["max"]), p.lambdas["n"])
    log.info(
        "%s classes %s: %d train / %d test images, %d features, lambdas %s",
        w.dataset,
        p.classes,
        len(y_tr),
        len(y_te),
        x_tr.shape[1],
        np.array2string(lams),
    )
    t0 = time.time()
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
    names = {
        int(c): str(n) for c, n in zip(data.class_index.values, data.class_name.values, strict=True)
    }
    store.attrs.update(
        {
            "dataset": w.dataset,
            "classes": [int(c) for c in p.classes],
            "class_names": [names[int(c)] for c in p.classes],
            "image_shape": [data.sizes["channel"], data.sizes["row"], data.sizes["col"]],
        }
    )
    write_store(
        store,
        smk.output[0],
        f"linear SVM tilting sweep on {w.dataset} classes {list(p.classes)}",
        make_provenance(
            {
                "dataset": w.dataset,
                "classes": p.classes,
                "lambdas": p.lambdas,
                "probe_index": p.probe_index,
                "max_projected": p.max_projected,
                "max_iter": p.max_iter,
                "tol": p.tol,
                "seed": p.seed,
            },
            wall_time_s=round(time.time() - t0, 2),
            data_provenance=data.attrs["provenance"]["config"],
        ),
    )
