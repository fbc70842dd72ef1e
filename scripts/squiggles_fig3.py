"""Rule squiggles_fig3: Fig. 3, the first attacked curves under L2 PGD at growing eps in
pixel space (all steps) and in latent space (the latent attack's points, decoded)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import fig3_store
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    model = load_model(smk.input.model).to(device)
    store = fig3_store(
        model,
        w.variant,
        open_store(smk.input.data, load=False),
        open_store(smk.input.latent),
        p.eps,
        n=p.n,
        steps=p.steps,
        step_ratio=p.step_ratio,
        loss=p.loss,
    )
    store.attrs["seed"] = int(w.seed)
    log.info("pixel PGD labels per eps: %s", store.pixel_pred.values.tolist())
    write_store(
        store,
        smk.output[0],
        f"Fig. 3: {w.variant} curves under L2 PGD at growing eps, pixel vs latent space "
        f"(seed {w.seed})",
        log.provenance(device),
    )
