"""Rule squiggles_latent: latent-space (on-manifold) PGD on the sigma-0 model, true labels
recomputed after the attack (Fig. 9)."""

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
    model = load_model(smk.input.model).to(device)
    ds = se.latent_attack(
        model,
        w.variant,
        z,
        y,
        p.eps,
        steps=p.steps,
        step_ratio=p.step_ratio,
        loss=p.loss,
        resolution=data.attrs["resolution"],
    )
    curves = se.latent_curves(ds)
    for e, a, u in zip(ds["eps"].values, curves["accuracy"], curves["unchanged"], strict=True):
        log.info("eps %.5g: accuracy %.3f, true label unchanged %.3f", e, a, u)
    ds = ds.assign_coords(sample=data["sample"].values)
    ds.attrs.update({"variant": w.variant, "sigma": 0.0, "seed": int(w.seed)})
    write_store(
        ds,
        smk.output[0],
        f"latent-space L2 PGD on the {w.variant} sigma-0 model (seed {w.seed})",
        log.provenance(device),
    )
