"""Rule dmm_mislabeled: N2 trained only on N1's targeted adversarial examples (Sec. 5.2)."""

from pipeline_lib.device import pick_device
from pipeline_lib.models import load_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.experiment import mislabeled_experiment
from pipeline_lib.zarr_io import open_store, write_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    data = open_store(smk.input.data)
    n1 = load_model(smk.input.n1) if w.scheme != "two_class" else None
    baseline = load_model(smk.input.baseline[0]) if smk.input.baseline else None
    store = mislabeled_experiment(
        data,
        w.scheme,
        n1,
        {**p.attack, "batch": 1000},
        p.classifier,
        p.two_classes,
        int(w.seed),
        device,
        log=log.info,
        baseline=baseline,
        similarity_samples=p.similarity_samples,
    )
    write_store(
        store,
        smk.output[0],
        f"mislabeled-adversarial training ({w.scheme}) on {w.dataset}, seed {w.seed}",
        log.provenance(device),
    )
