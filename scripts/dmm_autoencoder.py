"""Rules dmm_autoencoder and dmm_ablation_autoencoder: train a manifold model
(autoencoder) of one dataset with the rule's settings (the store's description comes
from the rule)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import save_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import fit_autoencoder
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    device = pick_device(p.device)
    data = open_store(smk.input[0])
    model, kind, kwargs, store = fit_autoencoder(
        data, p.cfg, p.seed, device, log=log.info, resume=log.resume()
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    log.info("test reconstruction L2 %.3f (mean)", float(store.test_l2.mean()))
    save_model(model, smk.output.model, kind, kwargs, provenance=prov)
    write_store(store, smk.output.store, p.description, prov)
