"""Rule figure_natural_samples: image grid and dataset counts."""

from pipeline_lib import viz
from pipeline_lib.metrics import write_json
from pipeline_lib.runtime import rule_context
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk):
    ds = open_store(smk.input[0])
    name = smk.wildcards.dataset
    viz.save(viz.natural_samples(ds), smk.output.figure)
    split = ds.split.values
    write_json(
        {
            f"data/{name}/n_train": int((split == "train").sum()),
            f"data/{name}/n_test": int((split == "test").sum()),
            f"data/{name}/n_classes": int(ds.sizes["class_index"]),
            f"data/{name}/n_features": int(ds.attrs["n_features"]),
        },
        smk.output.metrics,
    )
