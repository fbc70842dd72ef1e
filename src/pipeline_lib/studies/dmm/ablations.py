"""Natural-image DMM ablations (config ``dmm.ablations``; issue 19 items 7, 9, 10).

* Manifold dimension and quality: autoencoders with other latent sizes k and training
  lengths, measured by the default attack stage (:func:`.experiment.attack_store`).
* Where the tangent space is taken: at x' = decode(encode(x)) (the paper's choice) or at
  the decoder's point nearest x, D(z*), with z* found by gradient descent on
  |D(z) - x|^2 from encode(x) (:func:`manifold_projection`).
* Fig. 6 beyond one MLP: classifiers with sub-epoch checkpoints in the first epoch
  (:func:`fit_classifier_subepoch`), of either architecture, measured by
  :func:`.experiment.distance_store`.

Each function builds one labelled ``xarray.Dataset`` or a metrics dict; the thin
``scripts/dmm_ablation_*.py`` only load inputs and write outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import xarray as xr
from torch import nn

from pipeline_lib.models import batched
from pipeline_lib.resume import Resume
from pipeline_lib.stats import dist_stat, mean_finite, seed_stat
from pipeline_lib.tangents import (
    finite_difference_jacobian,
    orthonormal_basis,
    principal_cosines,
    tangent_bases,
    tangent_decoder,
)
from pipeline_lib.training import TrainingState, accuracy, batches, check_finite
from pipeline_lib.zarr_io import var

from .ablation_names import setting_name
from .experiment import (
    ENCODE_BATCH,
    build_classifier,
    dmm_metrics,
    image_shape,
    sgd_settings,
    split,
    split_head,
)

Log = Callable[..., None]
LOCATIONS = ("reconstruction", "projected")


def _quiet(*_a, **_k) -> None:
    return None


# ----------------------------------------------------------------------------- item 9


def manifold_projection(
    decode: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    z0: torch.Tensor,
    steps: int,
    lr: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """z* = argmin_z |D(z) - x|^2 per image, by ``steps`` Adam steps of size ``lr`` from
    ``z0`` (deterministic: no randomness). ``x`` is flat (N, n) or image-shaped; returns
    (z*, per-image squared error after each step, (steps + 1, N), step 0 = at z0)."""
    flat = x.reshape(x.shape[0], -1)
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    errs = []
    for _ in range(steps + 1):
        err = (decode(z).reshape(flat.shape) - flat).pow(2).sum(1)
        errs.append(err.detach())
        if len(errs) > steps:
            break
        opt.zero_grad(set_to_none=True)
        err.sum().backward()
        opt.step()
    return z.detach(), torch.stack(errs)


def _location_piece(
    ae: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    ids: np.ndarray,
    device: torch.device,
    at: str,
    projection: dict,
    fd_h: float,
    shape: tuple[int, int, int],
) -> xr.Dataset:
    x = x.to(device)
    z0 = batched(ae.encode, x, ENCODE_BATCH)
    if at == "projected":
        codes, errs = manifold_projection(ae.decode, x, z0, projection["steps"], projection["lr"])
    elif at == "reconstruction":
        codes, errs = z0, None
    else:
        raise ValueError(f"unknown tangent location {at!r}; known: {LOCATIONS}")
    b = tangent_bases(tangent_decoder(ae), codes, chunk=codes.shape[0])
    fd = orthonormal_basis(finite_difference_jacobian(ae.decode, codes, h=fd_h))
    fd_cos = principal_cosines(b, fd).amin(1).cpu()
    with torch.no_grad():
        point = ae.decode(codes).reshape(x.shape[0], -1)
        rec = ae.decode(z0).reshape(x.shape[0], -1)
    flat = x.reshape(x.shape[0], -1)
    m, k, n = b.shape
    where = {
        "reconstruction": "x' = decode(encode(x))",
        "projected": "D(z*), z* = argmin |D(z) - x|^2 from encode(x)",
    }[at]
    data = {
        "basis": var(
            b.cpu().numpy(),
            ("sample", "tangent", "feature"),
            f"orthonormal basis (rows) of the decoder Jacobian's column space at {where}",
        ),
        "code": var(codes.cpu().numpy(), ("sample", "latent"), "code z where the basis is taken"),
        "image": var(flat.cpu().numpy(), ("sample", "feature"), "test image x"),
        # attack_store evaluates the relative effect E at this point
        "reconstruction": var(
            point.cpu().numpy(), ("sample", "feature"), f"the point of M used: {where}"
        ),
        "label": var(y.numpy(), ("sample",), "class position 0..C-1"),
        "fd_min_cosine": var(
            fd_cos.numpy(),
            ("sample",),
            "smallest principal cosine between the forward-mode basis and the finite-"
            "difference basis (App. D.2); 1 = same subspace",
        ),
        "location_l2": var(
            (flat - point).norm(dim=1).cpu().numpy(),
            ("sample",),
            f"L2 distance |x - p| from x to the point p = {where}",
            "input",
        ),
        "reconstruction_l2": var(
            (flat - rec).norm(dim=1).cpu().numpy(),
            ("sample",),
            "L2 distance |x - decode(encode(x))|",
            "input",
        ),
    }
    coords = {
        "sample": ids,
        "tangent": np.arange(k),
        "feature": np.arange(n),
        "latent": np.arange(codes.shape[1]),
    }
    if errs is not None:
        data["projection_sq_error"] = var(
            errs.T.cpu().numpy(),
            ("sample", "step"),
            "|D(z) - x|^2 along the projection's gradient descent (step 0: z = encode(x))",
            "input^2",
        )
        coords["step"] = np.arange(errs.shape[0])
    attrs = {"k": k, "n_features": n, "image_shape": list(shape), "fd_h": fd_h, "location": at}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def location_tangent_store(
    ds: xr.Dataset,
    ae: nn.Module,
    n_samples: int,
    device: torch.device,
    at: str,
    projection: dict,
    fd_h: float = 1e-3,
    chunk: int = 64,
    log: Log = _quiet,
    classes=None,
) -> xr.Dataset:
    """The tangent store (the variables :func:`.experiment.attack_store` reads, plus the
    distances from x to the point used) of the first ``n_samples`` test images (of the
    manifold's ``classes``, None: all), with the bases taken at ``at``:
    ``reconstruction`` (x' = D(E(x)), as the paper) or ``projected`` (D(z*), the
    decoder's point nearest x, ``projection`` = {steps, lr})."""
    x, y, ids = split_head(ds, "test", n_samples, classes)
    shape = image_shape(ds)
    ae = ae.to(device).eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    parts = []
    for i in range(0, len(ids), chunk):
        j = slice(i, i + chunk)
        parts.append(_location_piece(ae, x[j], y[j], ids[j], device, at, projection, fd_h, shape))
        log(f"tangent bases at {at}: {min(i + chunk, len(ids))}/{len(ids)}")
    return xr.concat(parts, "sample", data_vars="minimal", coords="minimal", join="exact")


# ----------------------------------------------------------------------------- item 10


def subepoch_marks(n_batches: int, points: int) -> list[int]:
    """Batch counts within the first epoch after which a checkpoint is kept: ``points``
    evenly spaced marks ending at the epoch's last batch (fewer when the epoch has fewer
    batches; never a duplicate)."""
    if points < 1 or n_batches < 1:
        raise ValueError("points and n_batches must be >= 1")
    marks = {max(1, round(n_batches * (i + 1) / points)) for i in range(points)}
    return sorted(marks)


def fit_classifier_subepoch(
    ds: xr.Dataset,
    cfg: dict,
    seed: int,
    points: int,
    device: torch.device,
    log: Log = _quiet,
    resume: Resume | None = None,
) -> tuple[nn.Module, str, dict, list[dict], np.ndarray, xr.Dataset]:
    """A clean classifier trained exactly as :func:`.experiment.fit_classifier` does
    (same seeds, batches and SGD), keeping a state dict at initialisation, at ``points``
    evenly spaced batch counts of the first epoch and after every later epoch.
    ``resume``: save the training state (the kept states with it) every few epochs and
    go on from a saved one.

    Returns the model, its kind and kwargs, the states, their training time in epochs
    (fractions in the first epoch) and the test accuracy per state."""
    x_tr, y_tr, _ = split(ds, "train")
    x_te, y_te, _ = split(ds, "test")
    torch.manual_seed(seed)
    model, kind, kwargs = build_classifier(cfg, image_shape(ds), ds.sizes["class_index"])
    model.to(device)
    sgd = sgd_settings(cfg)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=sgd["lr"],
        weight_decay=sgd["weight_decay"],
        momentum=sgd["momentum"],
    )
    gen = torch.Generator().manual_seed(seed)
    n, bs = x_tr.shape[0], sgd["batch_size"]
    n_batches = -(-n // bs)
    marks = set(subepoch_marks(n_batches, points))
    states, times, accs = [], [], []

    def keep(t: float) -> None:
        states.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        times.append(t)
        accs.append(accuracy(model, x_te, y_te))
        model.train()

    training = TrainingState(model, opt, gen, [])
    if resume is not None:

        def restore_extra(extra: dict) -> None:
            states[:], times[:], accs[:] = extra["states"], extra["times"], extra["accs"]

        resume.extra_state = lambda: {"states": states, "times": times, "accs": accs}
        resume.restore_extra = restore_extra
    start = training.restore(resume)
    if start == 1:
        keep(0.0)
    for epoch in range(start, sgd["epochs"] + 1):
        total = 0.0
        for b, idx in enumerate(batches(n, bs, gen), start=1):
            xb, yb = x_tr[idx].to(device), y_tr[idx].to(device)
            model.train()
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            if epoch == 1 and b in marks and b < n_batches:
                keep(b / n_batches)
        check_finite(total / n, f"classifier ({kind}, seed {seed})", epoch)
        keep(float(epoch))
        log(f"{kind} epoch {epoch}/{sgd['epochs']}: test acc {accs[-1]:.3f}")
        training.save(resume, epoch, sgd["epochs"])
    hist = xr.Dataset(
        {
            "test_accuracy": var(
                np.asarray(accs), ("checkpoint",), "accuracy on the clean test split"
            ),
        },
        coords={"checkpoint": np.arange(len(times)), "epoch": ("checkpoint", np.asarray(times))},
        attrs={"seed": seed, "kind": kind, "n_batches_per_epoch": n_batches},
    )
    hist.epoch.attrs["description"] = "training time in epochs (fractions in the first epoch)"
    return model.cpu().eval(), kind, kwargs, states, np.asarray(times), hist


# ----------------------------------------------------------------------------- metrics


def manifold_metrics(
    dataset: str,
    settings: list[tuple[int, int, str]],
    autoencoders: list[xr.Dataset],
    tangents: list[xr.Dataset],
    attacks: list[list[xr.Dataset]],
    prefix: str = "dmm_ablation",
) -> dict:
    """Per manifold setting (k, autoencoder epochs, tangent location): the default attack
    stage's numbers (:func:`.experiment.dmm_metrics`'s keys, under
    ``<prefix>/<dataset>/<setting>[-clean]/``), plus the distance from x to the point where
    the tangent space is taken next to the attack distance."""
    m: dict = {}
    for (k, e, at), ae, tg, runs in zip(settings, autoencoders, tangents, attacks, strict=True):
        name = f"{dataset}/{setting_name(k, e, at)}"
        part = dmm_metrics(name, ae, tg, {}, {"clean": runs}, {}, {}, prefix=prefix)
        m.update(part)
        base = f"{prefix}/{name}"
        loc = _location_l2(tg)
        m[f"{base}/location_l2"] = dist_stat([loc])
        m[f"{base}/reconstruction_l2"] = dist_stat([_reconstruction_l2(tg)])
        ratios = []
        for r in runs:
            by_id = dict(zip(tg.sample.values.tolist(), loc, strict=True))
            ok = r.pgd_success.values
            lv = np.asarray([by_id[s] for s in r.sample.values.tolist()])[ok]
            ratios.append(mean_finite(lv) / mean_finite(r.pgd_norm.values[ok]))
        m[f"{base}-clean/location_over_attack_distance"] = seed_stat(ratios)
    return m


def _location_l2(tg: xr.Dataset) -> np.ndarray:
    if "location_l2" in tg:
        return np.asarray(tg.location_l2.values, dtype=np.float64)
    return _reconstruction_l2(tg)


def _reconstruction_l2(tg: xr.Dataset) -> np.ndarray:
    if "reconstruction_l2" in tg:
        return np.asarray(tg.reconstruction_l2.values, dtype=np.float64)
    diff = np.asarray(tg.image.values, np.float64) - np.asarray(tg.reconstruction.values)
    return np.linalg.norm(diff, axis=1)


def boundary_metrics(
    dataset: str, distances: dict[str, list[xr.Dataset]], prefix: str = "dmm_ablation"
) -> dict:
    """Fig. 6 per architecture, keyed ``<prefix>/<dataset>-boundary_<arch>/...``: the
    mean distance curve over seeds (epochs as fractions), its value at initialisation, at
    the end of the first epoch, its minimum and its last value."""
    m: dict = {}
    for arch, runs in distances.items():
        key = f"{prefix}/{dataset}-boundary_{arch}"
        curves = np.stack([[mean_finite(row) for row in r.distance.values] for r in runs])
        epochs = np.asarray(runs[0].epoch.values, dtype=np.float64)
        per = [seed_stat(curves[:, j]) for j in range(len(epochs))]
        m[f"{key}/boundary_distance_curve"] = {
            "epoch": [float(e) for e in epochs],
            "mean": [s["mean"] for s in per],
            "std": [s["std"] for s in per],
            "n_seeds": len(runs),
        }
        one = int(np.argmin(np.abs(epochs - 1.0)))
        m[f"{key}/boundary_distance_initial"] = seed_stat(curves[:, 0])
        m[f"{key}/boundary_distance_first_epoch"] = seed_stat(curves[:, one])
        m[f"{key}/boundary_distance_min"] = seed_stat(np.nanmin(curves, axis=1))
        m[f"{key}/boundary_distance_final"] = seed_stat(curves[:, -1])
        m[f"{key}/test_accuracy"] = seed_stat([float(r.test_accuracy[-1]) for r in runs])
        m[f"{key}/checkpoints"] = len(epochs)
    return m
