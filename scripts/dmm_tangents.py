"""Rule dmm_tangents: orthonormal tangent bases of the autoencoder manifold at test images."""

from pipeline_lib.device import pick_device
from pipeline_lib.dmm import tangent_store
from pipeline_lib.models import load_model
from pipeline_lib.provenance import make_provenance
from pipeline_lib.runtime import rule_context
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, name = smk.params, smk.wildcards.dataset
    device = pick_device(p.device)
    data = open_store(smk.input.data)
    ae = load_model(smk.input.model)
    store = tangent_store(data, ae, p.n_samples, device, log=log.info)
    log.info("finite-difference check: min principal cosine %.4f", float(store.fd_min_cosine.min()))
    write_store(
        store,
        smk.output[0],
        f"tangent bases (decoder Jacobian at encode(x), jacfwd + QR) of {name} test images",
        make_provenance({"dataset": name, "n_samples": p.n_samples}, device=str(device)),
    )
