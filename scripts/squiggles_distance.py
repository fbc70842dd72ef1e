"""Rule squiggles_distance: upper bound on the latent distance to the true decision
boundary of the attacked, misclassified and sampled correct test curves, steered by one
of the other variant's models (Sec. 3)."""

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
    data = open_store(smk.input.data)
    ds = se.distance_store(
        load_model(smk.input.model).to(device),
        load_model(smk.input.navigator).to(device),
        w.variant,
        data,
        p.eps,
        n_attack=p.n,
        n_misclassified=p.sample.get("n_misclassified"),
        n_correct=p.sample.get("n_correct"),
        sample_seed=p.sample.get("sample_seed", 0),
        steps=p.steps,
        step_ratio=p.step_ratio,
    )
    d, ok = ds["distance"].values, ds["model_pred"].values == ds["label"].values
    log.info(
        "%d curves (%d attacked, %d misclassified, %d correct); distance quartiles %s; "
        "no flip up to max eps: %d; steering model agrees with the model under test on %.3f",
        d.size,
        int(ds["in_attack_set"].values.sum()),
        int((~ok).sum()),
        int(ok.sum()),
        np.quantile(d, [0.25, 0.5, 0.75]).tolist(),
        int(np.isinf(d).sum()),
        float((ds["steer_pred"].values == ds["model_pred"].values).mean()),
    )
    ds.attrs.update(
        {
            "variant": w.variant,
            "seed": int(w.seed),
            "steer_sigma": float(w.steer),
            "navigator": str(smk.input.navigator),
            "model": str(smk.input.model),
        }
    )
    write_store(
        ds,
        smk.output[0],
        f"distance to the true boundary of {w.variant} test curves (seed {w.seed}, steered by "
        f"the other variant's sigma-{w.steer} model)",
        log.provenance(device),
    )
