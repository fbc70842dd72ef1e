"""Rule squiggles_train: one Squiggles classifier (Adam, cosine decay, optional Gaussian
pixel noise), evaluated on every variant's test set (Table 6)."""

import torch

from pipeline_lib.device import pick_device
from pipeline_lib.models import save_model
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.zarr_io import open_store, write_store


def tensors(ds):
    _, _, x, y = se.attack_inputs(ds)
    return x, y


smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, w = smk.params, smk.wildcards
    device = pick_device(p.device)
    seed, sigma = int(w.seed), float(w.sigma)
    stores = {v: open_store(f) for v, f in zip(p.variants, smk.input.tests, strict=True)}
    tests = {v: tensors(ds) for v, ds in stores.items()}
    own_store = stores[w.variant]
    resolution = own_store.attrs["resolution"]
    stream = None
    if p.stream:  # the training curves generated while training: no train store
        x = y = None
        stream = se.CurveStream(
            w.variant, own_store.attrs["seed"], p.n_train, resolution,
            p.stream["chunk"], p.stream["workers"],
        )  # fmt: skip
        data_prov = {"stream": dict(p.stream), "n_train": p.n_train, "seed": stream.seed}
    else:
        # the main models name one store; a size-sweep model a list of one
        path = smk.input.train
        train = open_store(path[0] if isinstance(path, list) else path)
        x, y = tensors(train)
        x, y = x[: p.n_train], y[: p.n_train]  # a size-sweep model: the first n_train curves
        data_prov = train.attrs["provenance"]["config"]
    torch.manual_seed(seed)
    model, kind, kwargs = se.build_classifier(p.cfg, resolution)
    model = model.to(device)
    name = f"{w.variant} classifier (sigma {sigma:g}, seed {seed})"
    own = tests[w.variant]

    def evaluate(m):
        proba = se.predict_proba(m, own[0])
        return {"test_accuracy": float(((proba > 0.5) == own[1].numpy()).mean())}

    hist = se.train_classifier(
        model,
        x,
        y,
        epochs=p.cfg["epochs"],
        lr=p.cfg["lr"],
        batch_size=p.cfg["batch_size"],
        noise_sigma=sigma,
        seed=seed,
        name=name,
        evaluate=evaluate,
        log=log.info,
        resume=log.resume(),
        stream=stream,
    )
    gen = se.generalization(model, tests)
    for v, r in gen.items():
        log.info("test on %s: accuracy %.4f, ROC-AUC %.4f", v, r["accuracy"], r["roc_auc"])
    hist = se.with_generalization(hist, gen)
    n_train = p.n_train if stream is not None else int(x.shape[0])
    hist.attrs.update(
        {"variant": w.variant, "sigma": sigma, "seed": seed, "n_train": n_train,
         "streamed": stream is not None}
    )  # fmt: skip
    prov = log.provenance(device, data_provenance=data_prov)
    save_model(model, smk.output.model, kind, kwargs, provenance=prov)
    write_store(hist, smk.output.store, f"training and test metrics of the {name}", prov)
