"""Rule squiggles_decomposition: on/off-manifold split of the latent attack and of each
model's pixel attack through the generator's Jacobian (Fig. 11)."""

import numpy as np
import torch

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.studies.squiggles import generators as sq
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data, z, x, y = se.attack_inputs(open_store(smk.input.data), p.n)
    res = data.attrs["resolution"]
    latent = open_store(smk.input.latent).isel(sample=slice(0, p.n))
    best = se.best_latent_eps(latent)
    latent_eps = float(latent["eps"].values[best])
    models = {
        f"pixel_sigma{g}": load_model(m).to(device)
        for g, m in zip(p.sigmas, smk.input.models, strict=True)
    }
    models["latent"] = models["pixel_sigma0"]
    with torch.no_grad():
        z_adv = torch.as_tensor(latent["latent_adv"].values[:, best])
        deltas = {"latent": sq.decode(w.variant, z_adv, res) - x}
    focus = None
    for g, f in zip(p.sigmas, smk.input.pixels, strict=True):
        px = open_store(f).isel(sample=slice(0, p.n))
        deltas[f"pixel_sigma{g}"] = torch.as_tensor(px["x_adv_focus"].values) - x
        focus = px.attrs["focus_eps"]
    ds = se.decompose(
        models,
        w.variant,
        z,
        x,
        deltas,
        resolution=res,
        rtol=p.rtol,
        seed=p.seed,
        labels=y,
    )
    for a in ds["attack"].values:
        log.info(
            "%s: median on-manifold share %.4f (random subspace %.4f)",
            a,
            float(np.nanmedian(ds["on_share"].sel(attack=a))),
            float(np.nanmedian(ds["random_share"].sel(attack=a))),
        )
    ds = ds.assign_coords(sample=data["sample"].values)
    ds.attrs.update(
        {"variant": w.variant, "seed": int(w.seed), "latent_eps": latent_eps, "focus_eps": focus}
    )
    write_store(
        ds,
        smk.output[0],
        f"on/off-manifold decomposition of attacks on {w.variant} models (seed {w.seed})",
        log.provenance(device),
    )
