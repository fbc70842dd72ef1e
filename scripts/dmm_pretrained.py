"""Rule dmm_pretrained: a dataset's pretrained classifier (a torchvision ResNet read from
a local weights file, e.g. App. G.3's ResNet-50 on ImageNet) as the project's model
checkpoint, with its test accuracy on the prepared store."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import save_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import pretrained_classifier
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p = smk.params
    device = pick_device(p.device)
    data = open_store(smk.input.data)
    model, kind, kwargs, acc = pretrained_classifier(
        data, p.cfg, smk.input.weights, device, log=log.info
    )
    prov = log.provenance(device, data_provenance=data.attrs["provenance"]["config"])
    save_model(model, smk.output[0], kind, kwargs, provenance=prov, test_accuracy=acc)
