"""Rule squiggles_distance: upper bound on the latent distance to the true decision
boundary, steered by the other variant's sigma-0 model (Sec. 3)."""

import numpy as np

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data, z, x, y = se.attack_inputs(open_store(smk.input.data), p.n)
    navigator = load_model(smk.input.navigator).to(device)
    ds = se.boundary_distance(
        navigator,
        w.variant,
        z,
        y,
        p.eps,
        steps=p.steps,
        step_ratio=p.step_ratio,
        resolution=data.attrs["resolution"],
    )
    d = ds["distance"].values
    log.info(
        "distance quartiles %s; no flip up to max eps: %d of %d",
        np.quantile(d, [0.25, 0.5, 0.75]).tolist(),
        int(np.isinf(d).sum()),
        d.size,
    )
    ds = ds.assign_coords(sample=data["sample"].values)
    ds.attrs.update(
        {"variant": w.variant, "seed": int(w.seed), "navigator": str(smk.input.navigator)}
    )
    write_store(
        ds,
        smk.output[0],
        f"distance to the true boundary of {w.variant} test curves (navigator seed {w.seed})",
        log.provenance(device),
    )
