"""Rule squiggles_discriminator: Sec. 4.2 footnote 4, a classifier that tells Taylor from
SineNet curves (with the self-intersection label alone as the control)."""

from pipeline_lib.device import pick_device
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles.experiment import discriminator_metrics, discriminator_store
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    device = pick_device(p.device)
    store = discriminator_store(
        dict(p.classifier), p.resolution, **dict(p.cfg), seed=p.seed, device=device, log=log.info
    )
    for key, value in discriminator_metrics(store).items():
        log.info("%s %s", key, value)
    write_store(
        store,
        smk.output[0],
        "Taylor vs SineNet generator discriminator (Sec. 4.2 footnote 4): per test curve",
        log.provenance(device),
    )
