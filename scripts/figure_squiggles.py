"""Rule figure_squiggles: one figure of an analysis variant (latent: Fig. 9, distance:
Fig. 8, pixel: Fig. 10, decomposition: Fig. 11, errors: Fig. 7)."""

import numpy as np

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import plots as squiggle_plots
from pipeline_lib.studies.squiggles.experiment import latent_curves
from pipeline_lib.zarr_io import open_store


def by_sigma(files, sigmas, seeds):
    """sigma (float) -> stores over seeds, from files listed sigma-major then seed."""
    stores = [open_store(f) for f in files]
    k = len(seeds)
    return {float(g): stores[i * k : (i + 1) * k] for i, g in enumerate(sigmas)}


smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, what, inp = smk.params, smk.wildcards.sq_what, smk.input
    if what == "latent":
        fig = squiggle_plots.latent_figure([open_store(f) for f in inp.latent])
    elif what == "distance":
        fig = squiggle_plots.distance_figure(
            [open_store(f) for f in inp.distance],
            [open_store(f) for f in inp.latent],
            by_sigma(inp.pixel, p.sigmas, p.seeds),
        )
    elif what == "pixel":
        fig = squiggle_plots.pixel_figure(by_sigma(inp.pixel, p.sigmas, p.seeds))
    elif what == "decomposition":
        fig = squiggle_plots.decomposition_figure(
            open_store(inp.decomposition[0]), open_store(inp.data)
        )
    else:
        latent = open_store(inp.latent_first)
        best = float(latent["eps"].values[int(np.argmin(latent_curves(latent)["accuracy"]))])
        fig = squiggle_plots.errors_figure(
            open_store(inp.data),
            open_store(inp.training),
            latent,
            {float(g): open_store(f) for g, f in zip(p.sigmas, inp.pixel_first, strict=True)},
            best,
            p.n,
        )
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
