"""Rule squiggles_dataset: one split of one Squiggles variant (latent, points, image,
label) from its own seed stream."""

from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.generators import label_distribution, make_dataset
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    ds = make_dataset(w.variant, p.n, p.seed, w.split, p.resolution, device=device)
    log.info("%s", label_distribution(ds))
    write_store(
        ds,
        smk.output[0],
        f"Squiggles {w.variant} {w.split} set: {p.n} curves at {p.resolution}x{p.resolution}",
        log.provenance(device),
    )
