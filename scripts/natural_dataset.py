"""Rule natural_dataset: a class/sample subset of a natural-image dataset -> Zarr."""

from pipeline_lib.natural import make_natural_dataset
from pipeline_lib.runtime import rule_context
from pipeline_lib.zarr_io import write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    spec, name = smk.params.spec, smk.wildcards.dataset
    ds = make_natural_dataset(
        name,
        classes=spec["classes"],
        n_train=spec["n_train"],
        n_test=spec["n_test"],
        seed=smk.params.seed,
        data_dir=spec["data_dir"],
        download=spec["download"],
        cache_dir=smk.params.cache,
        image_size=spec.get("image_size"),
        resize=spec.get("resize"),
    )
    log.info("%s: %s", name, dict(ds.sizes))
    write_store(
        ds,
        smk.output[0],
        f"{ds.attrs['title']} images in [0,1] with labels, stratified subset",
        log.provenance(),
    )
