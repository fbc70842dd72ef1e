"""Rule dmm_tangents: orthonormal tangent bases of the autoencoder manifold at test images.

The bases are streamed to Zarr chunk by chunk (2000 CIFAR images with k = 128 are 3 GB
of float32 bases); the data store is opened lazily, only the test images used are read."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import write_tangent_store
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, name = smk.params, smk.wildcards.dataset
    device = pick_device(p.device)
    data = open_store(smk.input.data, load=False)
    ae = load_model(smk.input.model)
    path = write_tangent_store(
        data,
        ae,
        p.n_samples,
        device,
        smk.output[0],
        f"tangent bases (forward-mode decoder Jacobian at encode(x) + QR) of {name} test images",
        # called after the last chunk, so the wall time covers the whole computation
        lambda: log.provenance(device),
        log=log.info,
        classes=p.classes,
    )
    fd_min = float(open_store(path, load=False).fd_min_cosine.min())
    log.info("finite-difference check: min principal cosine %.4f", fd_min)
