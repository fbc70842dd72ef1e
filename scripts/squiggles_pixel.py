"""Rule squiggles_pixel: pixel-space L2 PGD and the Gaussian-noise attack of equal norm
on one model (Fig. 10)."""

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
    ds = se.pixel_attack(
        model,
        x,
        y,
        p.eps,
        steps=p.steps,
        step_ratio=p.step_ratio,
        loss=p.loss,
        focus_eps=p.focus_eps,
        noise_draws=p.noise_draws,
        seed=int(w.seed),
    )
    c = se.pixel_curves(ds)
    for e, a, b in zip(ds["eps"].values, c["pgd_accuracy"], c["noise_accuracy"], strict=True):
        log.info("eps %.5g: PGD accuracy %.3f, noise accuracy %.3f", e, a, b)
    ds = ds.assign_coords(sample=data["sample"].values)
    ds.attrs.update({"variant": w.variant, "sigma": float(w.sigma), "seed": int(w.seed)})
    write_store(
        ds,
        smk.output[0],
        f"pixel-space PGD and Gaussian-noise attacks on the {w.variant} sigma-{w.sigma} model "
        f"(seed {w.seed})",
        log.provenance(device),
    )
