"""Natural-image Dimpled-Manifold experiments (DMM Sec. 5, 6, 7; App. D, E, F, H, I).

Each function here builds one labelled ``xarray.Dataset`` (a Zarr store of the
workflow) from tensors and models; the thin scripts only load inputs and write
outputs. Class labels are used as positions 0..C-1 in the dataset's
``class_index`` coordinate, so a two-class subset trains a two-way classifier.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from torch import nn

from pipeline_lib import checkpoints
from pipeline_lib.attacks import margin_loss, min_distance, pgd, subspace_projector
from pipeline_lib.models import batched, build_model, frozen
from pipeline_lib.resume import Resume
from pipeline_lib.stats import dist_stat, finite_values, mean_finite, seed_stat
from pipeline_lib.tangents import (
    finite_difference_jacobian,
    orthonormal_basis,
    principal_cosines,
    tangent_decoder,
)
from pipeline_lib.tangents import tangent_bases as _tangent_bases
from pipeline_lib.training import (
    accuracy,
    reconstruction_errors,
    train_autoencoder,
    train_classifier,
)
from pipeline_lib.zarr_io import table_dataset, var, write_store_stream

Log = Callable[..., None]

AUTOENCODERS = {"mlp": "mlp_autoencoder", "vgg": "vgg_autoencoder"}
CLASSIFIERS = {"mlp": "mlp_classifier", "convnet": "small_convnet", "resnet": "resnet"}
ATTACKS = ("regular", "on", "off")
PATHS = ("full", "on", "off")
# batch sizes of the batched inference (models.batched): part of the stores' bitwise
# identity, since a forward pass may round differently with another batch size
ENCODE_BATCH = 500
LOGIT_BATCH = 2000


def _quiet(*_a, **_k) -> None:
    return None


# ----------------------------------------------------------------------------- data


def class_positions(labels: np.ndarray, classes) -> np.ndarray:
    """Original class indices -> positions 0..C-1 in ``classes``."""
    classes = np.asarray(classes)
    pos = np.searchsorted(np.sort(classes), labels)
    order = np.argsort(classes)
    out = order[np.clip(pos, 0, len(classes) - 1)]
    if not np.array_equal(classes[out], labels):
        raise ValueError("labels contain classes outside the dataset's class_index")
    return out


def split(ds: xr.Dataset, part: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Images (N, C, H, W) float32, class positions (N,) long, and sample ids of a split."""
    sel = ds.split.values == part
    x = torch.as_tensor(np.asarray(ds.image.values[sel], dtype=np.float32))
    y = torch.as_tensor(class_positions(ds.label.values[sel], ds.class_index.values))
    return x, y.long(), ds.sample.values[sel]


def manifold_subset(ds: xr.Dataset, classes) -> xr.Dataset:
    """The samples of ``classes`` (original indices; None: all), the class_index kept
    whole: the manifold model of App. D.3 covers two classes of a 10-class dataset, and
    its images keep their positions among all ten classes."""
    if classes is None:
        return ds
    missing = [int(c) for c in classes if int(c) not in ds.class_index.values]
    if missing:
        raise ValueError(
            f"manifold classes {missing} are not in the dataset's classes "
            f"{ds.class_index.values.tolist()}"
        )
    return ds.isel(sample=np.flatnonzero(np.isin(ds.label.values, np.asarray(classes))))


def image_shape(ds: xr.Dataset) -> tuple[int, int, int]:
    return (ds.sizes["channel"], ds.sizes["row"], ds.sizes["col"])


# ----------------------------------------------------------------------------- models


def build_autoencoder(cfg: dict, in_shape) -> tuple[nn.Module, str, dict]:
    kind = AUTOENCODERS[cfg["kind"]]
    kwargs: dict = {"in_shape": tuple(in_shape), "k": cfg["k"]}
    if cfg["kind"] == "mlp":
        kwargs["hidden"] = tuple(cfg["hidden"])
    else:
        kwargs["width"] = cfg["width"]
        if cfg.get("stages", 2) != 2:  # two stages: the checkpoints' kwargs as before
            kwargs["stages"] = int(cfg["stages"])
    return build_model(kind, **kwargs), kind, kwargs


def build_classifier(cfg: dict, in_shape, n_classes: int) -> tuple[nn.Module, str, dict]:
    kind = CLASSIFIERS[cfg["kind"]]
    kwargs: dict = {"in_shape": tuple(in_shape), "n_classes": int(n_classes)}
    if cfg["kind"] == "convnet":
        kwargs["width"] = cfg["width"]
    elif cfg["kind"] == "resnet":
        kwargs["depth"] = int(cfg.get("depth", 50))
        if cfg.get("base_width", 64) != 64:  # torchvision's own network unless narrowed
            kwargs["width"] = int(cfg["base_width"])
    return build_model(kind, **kwargs), kind, kwargs


def sgd_settings(cfg: dict) -> dict:
    """The classifier config's optimiser keys, as :func:`train_classifier` takes them."""
    return {k: cfg[k] for k in ("epochs", "lr", "weight_decay", "batch_size", "momentum")}


def fit_autoencoder(
    ds: xr.Dataset,
    cfg: dict,
    seed: int,
    device: torch.device,
    log: Log = _quiet,
    resume: Resume | None = None,
) -> tuple[nn.Module, str, dict, xr.Dataset]:
    """Train the autoencoder on the training split of ``cfg["classes"]`` (all classes
    when absent or null); per-image test reconstruction errors of those classes.
    ``resume``: see :mod:`pipeline_lib.resume`."""
    ds = manifold_subset(ds, cfg.get("classes"))
    x_tr, _, _ = split(ds, "train")
    x_te, _, ids = split(ds, "test")
    torch.manual_seed(seed)
    model, kind, kwargs = build_autoencoder(cfg, image_shape(ds))
    model.to(device)

    def report(epoch, loss):
        if epoch == 1 or epoch % max(1, cfg["epochs"] // 10) == 0 or epoch == cfg["epochs"]:
            log(f"autoencoder epoch {epoch}/{cfg['epochs']}: train MSE {loss:.5f}")

    hist = train_autoencoder(
        model,
        x_tr,
        epochs=cfg["epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        seed=seed,
        on_epoch=report,
        resume=resume,
    )
    err = reconstruction_errors(model, x_te)
    out = xr.Dataset(
        {
            "train_loss": var(np.asarray(hist), ("epoch",), "mean training MSE per epoch"),
            "test_mse": var(err["mse"], ("sample",), "per-image reconstruction MSE (test split)"),
            "test_l2": var(
                err["l2"], ("sample",), "per-image L2 distance |x - decode(encode(x))|", "input"
            ),
        },
        coords={"epoch": np.arange(1, len(hist) + 1), "sample": ids},
        attrs={"k": cfg["k"], "n_features": int(math.prod(image_shape(ds)))},
    )
    return model.cpu().eval(), kind, kwargs, out


class NoisyInput(nn.Module):
    """Gaussian-noise augmentation as a wrapper: in training mode every forward pass
    adds N(0, sigma^2) noise to the input, drawn from its own seeded CPU generator (the
    same noise on any device); in eval mode it is the wrapped model itself."""

    def __init__(self, model: nn.Module, sigma: float, seed: int):
        super().__init__()
        self.model = model
        self.sigma = float(sigma)
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.sigma > 0:
            noise = torch.randn(x.shape, generator=self.gen, dtype=x.dtype)
            x = x + self.sigma * noise.to(x.device)
        return self.model(x)


def fit_classifier(
    ds: xr.Dataset,
    cfg: dict,
    variant: str,
    seed: int,
    device: torch.device,
    adversarial: dict | None = None,
    log: Log = _quiet,
    noise: dict | None = None,
    resume: Resume | None = None,
) -> tuple[nn.Module, str, dict, list[dict], xr.Dataset]:
    """Train one classifier variant; keep a state dict after every epoch (epoch 0 = init).

    ``clean``: the true labels; ``adversarial``: PGD adversarial training (Madry) with
    ``adversarial`` = {eps, step, steps, norm} (norm ``l2`` unless given, ``linf`` for the
    shells' robust base model); ``random_labels``: labels drawn uniformly at random
    (seeded), the control for the clinging curve; ``noise``: Gaussian-noise training
    (App. A) with ``noise`` = {sigma}, fresh noise on every training batch (seeded;
    not clipped to [0, 1]). ``resume``: see :mod:`pipeline_lib.resume` (the per-epoch
    states, history rows and noise generator are saved with the training state).
    """
    x_tr, y_tr, _ = split(ds, "train")
    x_te, y_te, _ = split(ds, "test")
    n_classes = ds.sizes["class_index"]
    if variant == "random_labels":
        gen = torch.Generator().manual_seed(10_000 + seed)
        y_tr = torch.randint(0, n_classes, y_tr.shape, generator=gen)
    adv = None
    if variant == "adversarial":
        if adversarial is None:
            raise ValueError("variant 'adversarial' needs the adversarial-training settings")
        adv = {
            "norm": adversarial.get("norm", "l2"),
            "eps": adversarial["eps"],
            "step_size": adversarial["step"],
            "steps": adversarial["steps"],
        }
    if variant == "noise" and noise is None:
        raise ValueError("variant 'noise' needs the noise-training settings")
    torch.manual_seed(seed)
    model, kind, kwargs = build_classifier(cfg, image_shape(ds), n_classes)
    model.to(device)
    trained = NoisyInput(model, noise["sigma"], 40_000 + seed) if variant == "noise" else model
    states: list[dict] = []
    rows: list[tuple[float, float, float]] = []
    if resume is not None:

        def extra_state() -> dict:
            out: dict = {"states": states, "rows": rows}
            if isinstance(trained, NoisyInput):
                out["noise"] = trained.gen.get_state()
            return out

        def restore_extra(extra: dict) -> None:
            states[:] = extra["states"]
            rows[:] = [tuple(r) for r in extra["rows"]]
            if isinstance(trained, NoisyInput):
                trained.gen.set_state(extra["noise"])

        resume.extra_state, resume.restore_extra = extra_state, restore_extra

    def on_epoch(epoch, m, stats):
        states.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        test_acc = accuracy(m, x_te, y_te)
        m.train()
        rows.append((stats["loss"], stats["train_accuracy"], test_acc))
        log(
            f"{variant} epoch {epoch}/{cfg['epochs']}: loss {stats['loss']:.4f}, "
            f"train acc {stats['train_accuracy']:.3f}, test acc {test_acc:.3f}"
        )

    train_classifier(
        trained,
        x_tr,
        y_tr,
        **sgd_settings(cfg),
        seed=seed,
        adversarial=adv,
        name=f"classifier ({variant}, seed {seed})",
        on_epoch=on_epoch,
        resume=resume,
    )
    arr = np.asarray(rows, dtype=np.float64)
    hist = xr.Dataset(
        {
            "train_loss": var(arr[:, 0], ("epoch",), "mean training loss (NaN at init)"),
            "train_accuracy": var(arr[:, 1], ("epoch",), "accuracy on the training labels used"),
            "test_accuracy": var(arr[:, 2], ("epoch",), "accuracy on the clean test split"),
        },
        coords={"epoch": np.arange(len(rows))},
        attrs={"variant": variant, "seed": seed, "n_classes": n_classes},
    )
    return model.cpu().eval(), kind, kwargs, states, hist


def pretrained_classifier(
    ds: xr.Dataset, cfg: dict, weights, device: torch.device, log: Log = _quiet
) -> tuple[nn.Module, str, dict, float]:
    """A dataset's pretrained classifier (DMM App. G.3: torchvision's ResNet-50 on
    ImageNet): the ResNet of ``cfg["depth"]`` with the state dict in the local file
    ``weights``, ``cfg``'s input normalisation inside, and its logits reordered so that
    the store's classes come first (:class:`~pipeline_lib.models.ClassSubset`), so the
    store's class positions are its labels. Returns the model, its kind and kwargs (for
    :func:`~pipeline_lib.models.save_model`) and its accuracy on the test split,
    against all of the network's classes."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise ValueError(
            f"{weights} is not a torchvision ResNet state dict (no 'fc.weight'); save one "
            "with torch.save(model.state_dict(), path)"
        )
    kwargs = {
        "in_shape": image_shape(ds),
        "depth": int(cfg["depth"]),
        "n_out": int(state["fc.weight"].shape[0]),
        "classes": [int(c) for c in ds.class_index.values],
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
    }
    model = build_model("pretrained_resnet", **kwargs)
    model.load_torchvision(weights, state)  # the file is read once
    model = model.to(device).eval()
    x_te, y_te, _ = split(ds, "test")
    acc = accuracy(model, x_te.to(device), y_te.to(device), batch_size=50)
    log(f"pretrained ResNet-{kwargs['depth']} ({kwargs['n_out']} classes): test accuracy {acc:.3f}")
    return model.cpu().eval(), "pretrained_resnet", kwargs, acc


def save_checkpoints(path, kind: str, kwargs: dict, states: list[dict], **extra) -> None:
    """All per-epoch state dicts in one file (``epoch i`` = after i epochs, 0 = init)."""
    checkpoints.save({"kind": kind, "kwargs": kwargs, "states": states, **extra}, path)


def _read_checkpoints(path, map_location: str = "cpu") -> dict:
    return checkpoints.load(path, map_location)


def _checkpoint_model(ckpt: dict, epoch: int) -> nn.Module:
    model = build_model(ckpt["kind"], **ckpt["kwargs"])
    model.load_state_dict(ckpt["states"][epoch])
    return model.eval()


def load_checkpoint(path, epoch: int, map_location: str = "cpu") -> nn.Module:
    """One call from the per-epoch checkpoint file to the model after ``epoch`` epochs."""
    ckpt = _read_checkpoints(path, map_location)
    if not 0 <= epoch < len(ckpt["states"]):
        raise IndexError(f"{path} has epochs 0..{len(ckpt['states']) - 1}, asked for {epoch}")
    return _checkpoint_model(ckpt, epoch)


def iter_checkpoints(path, map_location: str = "cpu"):
    """(epoch, model) for every epoch of the checkpoint file, reading the file once."""
    ckpt = _read_checkpoints(path, map_location)
    for epoch in range(len(ckpt["states"])):
        yield epoch, _checkpoint_model(ckpt, epoch)


# ----------------------------------------------------------------------------- tangents


def split_head(
    ds: xr.Dataset, part: str, n: int, classes=None
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``split(ds, part)`` cut to its first ``n`` samples (of ``classes``, original
    indices, when given), reading only those images: ``ds`` may be a lazily opened
    store (``open_store(path, load=False)``) whose images need not fit in memory."""
    sel = ds.split.values == part
    if classes is not None:
        sel &= np.isin(ds.label.values, np.asarray(classes))
    idx = np.flatnonzero(sel)[:n]
    x = torch.as_tensor(np.asarray(ds.image.isel(sample=idx).values, dtype=np.float32))
    y = torch.as_tensor(class_positions(ds.label.values[idx], ds.class_index.values))
    return x, y.long(), ds.sample.values[idx]


def _tangent_piece(
    ae: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    ids: np.ndarray,
    device: torch.device,
    fd_h: float,
    shape: tuple[int, int, int],
) -> xr.Dataset:
    """The tangent-store piece of the images ``x`` (one chunk): bases on the CPU."""
    codes = batched(ae.encode, x.to(device), ENCODE_BATCH)
    b = _tangent_bases(tangent_decoder(ae), codes, chunk=codes.shape[0])
    fd = orthonormal_basis(finite_difference_jacobian(ae.decode, codes, h=fd_h))
    fd_cos = principal_cosines(b, fd).amin(1).cpu()
    del fd
    with torch.no_grad():
        rec = ae.decode(codes).cpu()
    basis = b.cpu().numpy()
    del b
    m, k, n = basis.shape
    return xr.Dataset(
        {
            "basis": var(
                basis,
                ("sample", "tangent", "feature"),
                "orthonormal basis (rows) of the decoder Jacobian's column space at encode(x)",
            ),
            "code": var(codes.cpu().numpy(), ("sample", "latent"), "encode(x)"),
            "image": var(x.reshape(m, -1).numpy(), ("sample", "feature"), "test image x"),
            "reconstruction": var(
                rec.reshape(m, -1).numpy(), ("sample", "feature"), "x' = decode(encode(x))"
            ),
            "label": var(y.numpy(), ("sample",), "class position 0..C-1"),
            "fd_min_cosine": var(
                fd_cos.numpy(),
                ("sample",),
                "smallest principal cosine between the forward-mode basis and the finite-"
                "difference basis (App. D.2); 1 = same subspace",
            ),
        },
        coords={
            "sample": ids,
            "tangent": np.arange(k),
            "feature": np.arange(n),
            "latent": np.arange(codes.shape[1]),
        },
        attrs={"k": k, "n_features": n, "image_shape": list(shape), "fd_h": fd_h},
    )


# one chunk of bases in float32; the stage holds about six such arrays at once (the
# Jacobian, its QR, the transposed basis, the finite-difference check's two, a copy)
TANGENT_CHUNK_BYTES = 48 * 2**20


def tangent_chunk(k: int, n_features: int, budget: int = TANGENT_CHUNK_BYTES) -> int:
    """Samples per tangent chunk: 64, fewer where one chunk's bases would exceed
    ``budget`` bytes (2000 CIFAR images with k = 128 stream in chunks of 32)."""
    return max(1, min(64, budget // (4 * k * n_features)))


def tangent_parts(
    ds: xr.Dataset,
    ae: nn.Module,
    n_samples: int,
    device: torch.device,
    fd_h: float = 1e-3,
    chunk: int | None = None,
    log: Log = _quiet,
    classes=None,
) -> Iterator[xr.Dataset]:
    """The tangent store of :func:`tangent_store` as pieces of ``chunk`` samples along
    ``sample`` (each with every variable, coordinate and attr), computed one at a time:
    encode, decode, Jacobian bases and the finite-difference check per chunk. Only
    the first ``n_samples`` test images are read from ``ds`` (see :func:`split_head`).
    ``chunk=None`` picks it from a memory budget (:func:`tangent_chunk`). ``classes``:
    the manifold model's classes (original indices; None: all)."""
    x, y, ids = split_head(ds, "test", n_samples, classes)
    shape = image_shape(ds)
    ae = ae.to(device).eval()
    if chunk is None:
        k = batched(ae.encode, x[:1].to(device), ENCODE_BATCH).shape[1]
        chunk = tangent_chunk(k, int(np.prod(shape)))
    for i in range(0, len(ids), chunk):
        j = slice(i, i + chunk)
        yield _tangent_piece(ae, x[j], y[j], ids[j], device, fd_h, shape)
        log(f"tangent bases {min(i + chunk, len(ids))}/{len(ids)}")


def tangent_store(
    ds: xr.Dataset,
    ae: nn.Module,
    n_samples: int,
    device: torch.device,
    fd_h: float = 1e-3,
    chunk: int = 64,
    log: Log = _quiet,
    classes=None,
) -> xr.Dataset:
    """Orthonormal tangent bases of the autoencoder's manifold at encode(x) for the first
    ``n_samples`` test images (App. D.2), with the finite-difference check per image:
    the pieces of :func:`tangent_parts` concatenated in memory (small runs and tests;
    the workflow streams them to Zarr with :func:`write_tangent_store`)."""
    parts = list(
        tangent_parts(ds, ae, n_samples, device, fd_h=fd_h, chunk=chunk, log=log, classes=classes)
    )
    return xr.concat(parts, "sample", data_vars="minimal", coords="minimal", join="exact")


def write_tangent_store(
    ds: xr.Dataset,
    ae: nn.Module,
    n_samples: int,
    device: torch.device,
    path,
    description: str,
    provenance: dict | Callable[[], dict],
    fd_h: float = 1e-3,
    chunk: int | None = None,
    log: Log = _quiet,
    classes=None,
) -> Path:
    """The tangent store of :func:`tangent_store` written to ``path`` chunk by chunk
    (:func:`~pipeline_lib.zarr_io.write_store_stream`): peak memory is one chunk's
    bases, not all of them (2000 CIFAR images with k = 128 are 3 GB of bases)."""
    parts = tangent_parts(
        ds, ae, n_samples, device, fd_h=fd_h, chunk=chunk, log=log, classes=classes
    )
    return write_store_stream(parts, path, description, provenance, append_dim="sample")


# ----------------------------------------------------------------------------- analyses


def project(d: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Projection of each flat vector d[i] on the row space of the orthonormal basis[i]."""
    return torch.einsum("nk,nkf->nf", torch.einsum("nkf,nf->nk", basis, d), basis)


def projection_ratio(d: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Table 1's R(d, M) = |d| / |Proj_M d| per sample (inf where the projection is 0)."""
    on = project(d, basis).norm(dim=1)
    return d.norm(dim=1) / on


def random_orthonormal(n: int, k: int, features: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` uniformly random k-dim subspaces of R^features as orthonormal rows (n, k, f)."""
    g = torch.randn(n, features, k, generator=gen)
    q, _ = torch.linalg.qr(g)
    return q.transpose(1, 2).contiguous()


def expected_random_ratio(n: int, k: int) -> dict[str, float]:
    """App. I for a random direction and a fixed k-dim subspace: R^2 = 1 + X/Y with
    X ~ chi2(n-k), Y ~ chi2(k) independent, so E[R^2] = 1 + (n-k)/(k-2) (k > 2), not the
    paper's n/k (it divides the expectations); sqrt(n/k) is the paper's reference value."""
    out = {"sqrt_n_over_k": math.sqrt(n / k)}
    out["rms_exact"] = math.sqrt(1 + (n - k) / (k - 2)) if k > 2 else float("inf")
    return out


@torch.no_grad()
def relative_effect(
    model: nn.Module,
    x_rec: torch.Tensor,
    d: torch.Tensor,
    d_on: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    shape: tuple[int, ...],
) -> tuple[torch.Tensor, torch.Tensor]:
    """App. E.2: total effect E_d and the on-manifold relative effect E_{Proj_M d} / E_d,
    evaluated at the reconstruction x' for source class i and adversarial class t.
    ``x_rec``, ``d`` and ``d_on`` are flat (N, n); ``shape`` is the image shape."""

    def gap(v):
        z = model(v.reshape(-1, *shape))
        return z.gather(1, target[:, None])[:, 0] - z.gather(1, source[:, None])[:, 0]

    base = gap(x_rec)
    total = gap(x_rec + d) - base
    on = gap(x_rec + d_on) - base
    return total, on / total


def gradient_on_share(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, basis: torch.Tensor
) -> torch.Tensor:
    """|Proj_M g| / |g| for the input gradient g of the margin loss at x (Sec. 5.1); a
    random direction gives about sqrt(k/n)."""
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(margin_loss(model(xg), y).sum(), xg)
    g = g.flatten(1)
    return project(g, basis).norm(dim=1) / g.norm(dim=1).clamp_min(1e-30)


@torch.no_grad()
def logit_path(model: nn.Module, x0: torch.Tensor, x1: torch.Tensor, steps: int) -> torch.Tensor:
    """Logits along f((1 - t) x0 + t x1) for t in linspace(0, 1, steps): (N, steps, C)."""
    t = torch.linspace(0, 1, steps, dtype=x0.dtype, device=x0.device)
    a, b = x0.flatten(1), x1.flatten(1)
    pts = (1 - t)[None, :, None] * a[:, None] + t[None, :, None] * b[:, None]
    z = batched(model, pts.reshape(a.shape[0] * steps, *x0.shape[1:]), LOGIT_BATCH)
    return z.reshape(a.shape[0], steps, z.shape[-1])


def object_mass_share(d: torch.Tensor, x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Share of the perturbation's squared mass on object pixels (x > threshold)."""
    mask = (x > threshold).to(d)
    mass = d.pow(2)
    return (mass * mask).sum(1) / mass.sum(1).clamp_min(1e-30)


_S, _SF = ("sample",), ("sample", "feature")
_SA, _SP = ("sample", "attack"), ("sample", "path")

#: :func:`attack_store`'s variables in store order: name -> (dims, description, units or
#: None). Descriptions are :class:`string.Template` strings ($object_threshold).
ATTACK_VARS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "image": (_SF, "test image x (correctly classified)", "[0,1]"),
    "reconstruction": (_SF, "x' = decode(encode(x))", "[0,1]"),
    "label": (_S, "class position 0..C-1", None),
    "pgd_delta": (_SF, "greedy L2 PGD perturbation d (Table 1 attack)", None),
    "pgd_success": (_S, "the Table 1 attack changed the class", None),
    "pgd_steps": (_S, "steps until adversarial (-1: never)", None),
    "pgd_norm": (_S, "|d|_2", "input"),
    "adv_class": (_S, "class of x + d", None),
    "on_norm": (_S, "|Proj_M d|_2", "input"),
    "ratio": (_S, "R(d, M) = |d| / |Proj_M d| (NaN: attack failed)", None),
    "ratio_random_subspace": (
        _S,
        "R(d, Q) for a uniformly random k-dim subspace Q (control)",
        None,
    ),
    "ratio_random_vector": (_S, "R(r, M) for a Gaussian random vector r (App. I control)", None),
    "total_effect": (_S, "E_d: change of the logit gap f_t - f_i at x'", None),
    "on_effect": (_S, "on-manifold relative effect E_{Proj_M d} / E_d (App. E.2)", None),
    "path_logits": (
        ("sample", "path", "t", "class"),
        "logits along f((1-t) x + t x1), x1 = x + d, x + Proj_M d, x + (d - Proj_M d)",
        None,
    ),
    "path_flips": (_SP, "the end point x1 of each path changes the class", None),
    "grad_on_share": (_S, "|Proj_M g| / |g| for the margin-loss input gradient g at x", None),
    "c_delta": (
        ("sample", "attack", "feature"),
        "regular / on- / off-manifold PGD perturbations (App. F, Table 2)",
        None,
    ),
    "c_success": (_SA, "class changed", None),
    "c_distance": (_SA, "L2 distance of the adversarial example (NaN: failed)", "input"),
    "c_steps": (_SA, "steps taken", None),
    "c_ratio": (_SA, "R of the constrained d", None),
    "linf_delta": (_SF, "greedy L-inf PGD perturbation (App. H)", None),
    "linf_success": (_S, "the L-inf attack changed the class", None),
    "linf_norm": (_S, "|d|_inf", "input"),
    "l2_object_share": (_S, "share of the L2 perturbation's squared mass on object pixels", None),
    "linf_object_share": (
        _S,
        "share of the L-inf perturbation's squared mass on object pixels",
        None,
    ),
    "object_pixel_share": (_S, "share of pixels with x > $object_threshold (object pixels)", None),
}


def _constrained_attacks(
    model: nn.Module, img: torch.Tensor, y: torch.Tensor, basis: torch.Tensor, c: dict, log: Log
) -> dict[str, torch.Tensor]:
    """Table 2 / App. F: regular, on- and off-manifold L2 PGD (the on-manifold step
    ``on_step_factor`` times larger); the ``c_*`` variables of :func:`attack_store`,
    stacked along ``attack`` (dim 1) in :data:`ATTACKS` order."""
    x = img.flatten(1)
    names = ("c_delta", "c_success", "c_distance", "c_steps", "c_ratio")
    out: dict[str, list] = {v: [] for v in names}
    for name in ATTACKS:
        step = c["step"] * (c["on_step_factor"] if name == "on" else 1.0)
        hook = None if name == "regular" else subspace_projector(basis, name)
        res = pgd(
            model, img, y, norm="l2", eps=c["eps"], step_size=step, steps=c["steps"], project=hook
        )
        dd = res.x_adv.reshape(x.shape) - x
        out["c_delta"].append(dd)
        out["c_success"].append(res.success)
        out["c_distance"].append(torch.where(res.success, res.norm, torch.nan))
        out["c_steps"].append(res.steps)
        out["c_ratio"].append(projection_ratio(dd, basis))
        log(
            f"{name}-manifold PGD: success {res.success.float().mean():.3f}, median distance "
            f"{res.norm[res.success].median() if res.success.any() else float('nan'):.3f}"
        )
    return {k: torch.stack(v, 1) for k, v in out.items()}


def tangent_batch(
    tangents: xr.Dataset, device: torch.device, with_basis: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The images of a tangent store (or a selection of its samples) on ``device``:
    flattened images (n, features), integer labels, tangent bases (n, k, features; None
    when ``with_basis`` is false) and the images in their shape (n, *image_shape)."""
    x = torch.as_tensor(tangents.image.values).to(device)
    y = torch.as_tensor(tangents.label.values).long().to(device)
    basis = torch.as_tensor(tangents.basis.values).to(device) if with_basis else None
    return x, y, basis, x.reshape(len(x), *tangents.attrs["image_shape"])


def attack_store(
    model: nn.Module,
    tangents: xr.Dataset,
    cfg: dict,
    seed: int,
    device: torch.device,
    path_steps: int = 100,
    object_threshold: float = 0.1,
    log: Log = _quiet,
) -> xr.Dataset:
    """Every per-image DMM measurement on one classifier, for the correctly classified
    images of the tangent store (variables: :data:`ATTACK_VARS`):

    * Table 1 / App. E.2: greedy L2 PGD (``cfg['attack']``), R(d, M), the same ratio for a
      random k-dim subspace and for a random Gaussian vector, the relative effect E;
    * Fig. 7: logits along x -> x + d, x + Proj_M d and x + (d - Proj_M d);
    * Table 2 / App. F: regular, on- and off-manifold PGD (``cfg['constrained']``, the
      on-manifold step ``on_step_factor`` times larger);
    * Sec. 5.1: the on-manifold share of the input gradient;
    * App. H: greedy L-inf PGD (``cfg['linf']``) next to the L2 one.
    """
    model = frozen(model, device)
    x_all, y_all, _, img_all = tangent_batch(tangents, device, with_basis=False)
    pred = batched(model, img_all, LOGIT_BATCH).argmax(1)
    keep = (pred == y_all).cpu().numpy()
    log(f"{keep.sum()}/{len(keep)} tangent-store images are classified correctly")
    kept = tangents.isel(sample=np.flatnonzero(keep))
    x, y, basis, img = tangent_batch(kept, device)
    x_rec = torch.as_tensor(kept.reconstruction.values).to(device)
    n, f = x.shape
    k = basis.shape[1]
    shape = img.shape[1:]
    gen = torch.Generator().manual_seed(seed)

    a = cfg["attack"]
    reg = pgd(model, img, y, norm="l2", eps=a["eps"], step_size=a["step"], steps=a["steps"])
    d = reg.x_adv.reshape(n, f) - x
    d_on = project(d, basis)
    ok = reg.success
    ratio = torch.where(ok, d.norm(dim=1) / d_on.norm(dim=1), torch.nan)
    rand_basis = random_orthonormal(n, k, f, gen).to(device)
    ratio_sub = torch.where(ok, projection_ratio(d, rand_basis), torch.nan)
    r = torch.randn(n, f, generator=gen).to(device)
    with torch.no_grad():
        adv_class = model(reg.x_adv).argmax(1)
    total, rel = relative_effect(model, x_rec, d, d_on, y, adv_class, shape)
    log(
        f"regular L2 PGD: success {ok.float().mean():.3f}, mean |d| "
        f"{reg.norm[ok].mean():.3f}, median R {ratio[ok].median():.2f} "
        f"(random subspace {ratio_sub[ok].median():.2f}, sqrt(n/k) {math.sqrt(f / k):.2f})"
    )
    ends = {"full": x + d, "on": x + d_on, "off": x + (d - d_on)}
    paths = torch.stack(
        [logit_path(model, img, ends[p].reshape(n, *shape), path_steps) for p in PATHS]
    )
    share = gradient_on_share(model, img, y, basis)
    constrained = _constrained_attacks(model, img, y, basis, cfg["constrained"], log)
    li = cfg["linf"]
    lres = pgd(model, img, y, norm="linf", eps=li["eps"], step_size=li["step"], steps=li["steps"])
    dl = lres.x_adv.reshape(n, f) - x
    log(f"L-inf PGD: success {lres.success.float().mean():.3f}")

    values = {
        "image": x,
        "reconstruction": x_rec,
        "label": y,
        "pgd_delta": d,
        "pgd_success": ok,
        "pgd_steps": reg.steps,
        "pgd_norm": reg.norm,
        "adv_class": adv_class,
        "on_norm": d_on.norm(dim=1),
        "ratio": ratio,
        "ratio_random_subspace": ratio_sub,
        "ratio_random_vector": projection_ratio(r, basis),
        "total_effect": torch.where(ok, total, torch.nan),
        "on_effect": torch.where(ok, rel, torch.nan),
        "path_logits": paths.permute(1, 0, 2, 3),
        "path_flips": (paths[:, :, -1].argmax(-1) != y).T,  # t = 1 is the end point itself
        "grad_on_share": share,
        **constrained,
        "linf_delta": dl,
        "linf_success": lres.success,
        "linf_norm": lres.norm,
        "l2_object_share": torch.where(ok, object_mass_share(d, x, object_threshold), torch.nan),
        "linf_object_share": torch.where(
            lres.success, object_mass_share(dl, x, object_threshold), torch.nan
        ),
        "object_pixel_share": (x > object_threshold).float().mean(1),
    }
    coords = {
        "sample": tangents.sample.values[keep],
        "feature": np.arange(f),
        "attack": list(ATTACKS),
        "path": list(PATHS),
        "t": np.linspace(0, 1, path_steps),
        "class": np.arange(paths.shape[-1]),
    }
    attrs = {
        "k": k,
        "n_features": f,
        "image_shape": list(shape),
        "n_tangent_samples": int(len(keep)),
        "sqrt_n_over_k": math.sqrt(f / k),
        "rms_random_ratio_exact": expected_random_ratio(f, k)["rms_exact"],
    }
    return table_dataset(
        ATTACK_VARS,
        values,
        coords=coords,
        attrs=attrs,
        fields={"object_threshold": object_threshold},
    )


def distance_store(
    checkpoint_path,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: dict,
    device: torch.device,
    log: Log = _quiet,
) -> xr.Dataset:
    """Fig. 6: L2 distance from test images to the decision boundary after each epoch.

    The boundary is the one between the image's *predicted* class and the rest, so the
    distance is defined for misclassified images too; it is the smallest adversarial
    norm found by greedy PGD with bisection over eps (an upper bound on the distance).
    """
    x = x.to(device)
    dist, acc = [], []
    for e, model in iter_checkpoints(checkpoint_path):
        model = frozen(model, device)
        pred = batched(model, x, LOGIT_BATCH).argmax(1)
        dd = min_distance(
            model,
            x,
            pred,
            norm="l2",
            eps_max=cfg["eps_max"],
            rel_step=cfg["rel_step"],
            steps=cfg["steps"],
            bisections=cfg["bisections"],
        )
        dist.append(dd.cpu().numpy())
        acc.append(float((pred.cpu() == y).float().mean()))
        log(f"epoch {e}: mean distance {mean_finite(dist[-1]):.3f}")
    return xr.Dataset(
        {
            "distance": var(
                np.stack(dist),
                ("epoch", "sample"),
                "L2 distance to the decision boundary of the predicted class (inf: none "
                "found within eps_max)",
                "input",
            ),
            "test_accuracy": var(np.asarray(acc), ("epoch",), "accuracy on these test images"),
        },
        coords={"epoch": np.arange(len(dist)), "sample": np.arange(x.shape[0])},
    )


def mislabeled_targets(y: torch.Tensor, scheme: str, n_classes: int, gen) -> torch.Tensor:
    """Sec. 5.2 / Ilyas et al.: D_det target y+1 mod C; D_rand a uniformly random class
    other than y; two_class the other class."""
    if scheme in ("det", "two_class"):
        return (y + 1) % n_classes
    if scheme == "rand":
        off = torch.randint(1, n_classes, y.shape, generator=gen)
        return (y + off) % n_classes
    raise ValueError(f"unknown scheme {scheme!r}")


def subset_classes(ds: xr.Dataset, classes) -> xr.Dataset:
    """The samples of the given original class indices (a dataset store restricted)."""
    classes = np.asarray(classes)
    missing = [int(c) for c in classes if c not in ds.class_index.values]
    if missing:
        raise ValueError(f"classes {missing} are not in the dataset {ds.class_index.values}")
    sub = ds.isel(sample=np.isin(ds.label.values, classes))
    return sub.sel(class_index=classes)


def input_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Flat input gradients (N, n) of the margin loss of class ``y`` at ``x``."""
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(margin_loss(model(xg), y).sum(), xg)
    return g.flatten(1)


def boundary_similarity(
    a: nn.Module, b: nn.Module, x: torch.Tensor, y: torch.Tensor, x_adv: torch.Tensor
) -> dict[str, float]:
    """Sec. 5.2's 'very similar decision boundaries', measured: the share of test points
    ``x`` on which ``a`` and ``b`` predict the same class, the same on the perturbed
    points ``x_adv`` (N1's greedy adversarial examples: just across a's boundary, where
    only a similar boundary agrees), and the mean cosine between their margin-loss input
    gradients at ``x`` (class ``y``)."""
    with torch.no_grad():
        clean = float((a(x).argmax(1) == b(x).argmax(1)).float().mean())
        adv = (
            float((a(x_adv).argmax(1) == b(x_adv).argmax(1)).float().mean())
            if x_adv.shape[0]
            else float("nan")
        )
    ga, gb = input_gradients(a, x, y), input_gradients(b, x, y)
    cos = nn.functional.cosine_similarity(ga, gb, dim=1, eps=1e-30)
    return {"agreement_clean": clean, "agreement_adv": adv, "grad_cosine": float(cos.mean())}


def mislabeled_experiment(
    ds: xr.Dataset,
    scheme: str,
    n1: nn.Module | None,
    cfg: dict,
    classifier_cfg: dict,
    two_classes: list[int],
    seed: int,
    device: torch.device,
    log: Log = _quiet,
    baseline: nn.Module | None = None,
    similarity_samples: int = 1000,
) -> xr.Dataset:
    """Sec. 5.2: turn every training image into a targeted L2 adversarial example of N1
    (non-greedy: all steps, to get a confident target prediction), label it with its
    target, train a fresh N2 on those alone, report N2's accuracy on the clean test set.
    ``two_class`` trains its own N1 on ``two_classes`` (original indices; a dataset with
    two classes uses its own).

    Control: a network trained on the *unperturbed* training images with the same target
    labels (shows the labels alone carry no information about the true class).

    Boundary similarity (:func:`boundary_similarity`) of N1 and N2 on the first
    ``similarity_samples`` test images, perturbed by N1's greedy untargeted L2 PGD
    (``cfg``'s eps, step and steps, stopping at the boundary); baseline: the same
    measures for N1 and ``baseline``, an independently trained clean network (trained here with seed
    40_000 + seed when not given; always for ``two_class``)."""
    if scheme == "two_class":
        if ds.sizes["class_index"] > 2:
            ds = subset_classes(ds, two_classes)
        n1, _, _, _, _ = fit_classifier(ds, classifier_cfg, "clean", seed, device, log=log)
    if n1 is None:
        raise ValueError(f"scheme {scheme!r} needs the clean classifier N1")
    n_classes = ds.sizes["class_index"]
    x_tr, y_tr, _ = split(ds, "train")
    x_te, y_te, _ = split(ds, "test")
    gen = torch.Generator().manual_seed(20_000 + seed)
    t = mislabeled_targets(y_tr, scheme, n_classes, gen)
    n1 = frozen(n1, device)
    advs, norms = [], []
    for i in range(0, x_tr.shape[0], cfg["batch"]):
        xb, yb, tb = (v[i : i + cfg["batch"]].to(device) for v in (x_tr, y_tr, t))
        res = pgd(
            n1,
            xb,
            yb,
            norm="l2",
            eps=cfg["eps"],
            step_size=cfg["step"],
            steps=cfg["steps"],
            target=tb,
            early_stop=False,
        )
        advs.append(res.x_adv.cpu())
        norms.append(res.norm.cpu())
    x_adv = torch.cat(advs)
    norm = torch.cat(norms)
    n1_acc_target = accuracy(n1, x_adv, t)
    n1_test = accuracy(n1, x_te, y_te)
    log(
        f"{scheme}: N1 test acc {n1_test:.3f}; N1 predicts the target on {n1_acc_target:.3f} "
        f"of the {len(t)} adversarial training images (mean |d| {norm.mean():.3f})"
    )
    rows, nets = {}, {}
    for name, xs in (("n2", x_adv), ("control", x_tr)):
        torch.manual_seed(30_000 + seed)
        model, _, _ = build_classifier(classifier_cfg, image_shape(ds), n_classes)
        model.to(device)
        train_classifier(
            model,
            xs,
            t,
            **sgd_settings(classifier_cfg),
            seed=30_000 + seed,
            name=f"{name} ({scheme})",
        )
        nets[name] = model.eval()
        rows[name] = (
            accuracy(model, x_te, y_te),
            accuracy(model, x_te, mislabeled_targets(y_te, "det", n_classes, gen))
            if scheme != "rand"
            else float("nan"),
            accuracy(model, xs, t),
        )
        log(f"{scheme}: {name} clean test acc {rows[name][0]:.3f}")
    trained_baseline = baseline is None or scheme == "two_class"
    if trained_baseline:
        baseline, _, _, _, _ = fit_classifier(
            ds, classifier_cfg, "clean", 40_000 + seed, device, log=_quiet
        )
    baseline = frozen(baseline, device)
    xs, ys = x_te[:similarity_samples].to(device), y_te[:similarity_samples].to(device)
    res = pgd(n1, xs, ys, norm="l2", eps=cfg["eps"], step_size=cfg["step"], steps=cfg["steps"])
    x_pert = res.x_adv[res.success]
    sim = {
        "n2": boundary_similarity(n1, frozen(nets["n2"], device), xs, ys, x_pert),
        "baseline": boundary_similarity(n1, baseline, xs, ys, x_pert),
    }
    log(f"{scheme}: similarity to N1 {sim} ({int(res.success.sum())} perturbed points)")
    scalars = {
        "n1_test_accuracy": (n1_test, "N1's accuracy on the clean test set"),
        "n1_target_rate": (
            n1_acc_target,
            "share of adversarial training images N1 assigns to their target",
        ),
        "perturbation_norm": (float(norm.mean()), "mean L2 norm of the training perturbations"),
        "n2_test_accuracy": (rows["n2"][0], "N2's accuracy on the clean test set (true labels)"),
        "n2_test_accuracy_shifted": (
            rows["n2"][1],
            "N2's accuracy on the clean test set against labels y+1 mod C (NaN for rand)",
        ),
        "n2_train_accuracy": (rows["n2"][2], "N2's accuracy on its own (mislabeled) training set"),
        "control_test_accuracy": (
            rows["control"][0],
            "control (unperturbed images, same target labels): clean test accuracy",
        ),
        "chance": (1.0 / n_classes, "chance accuracy"),
        "similarity_perturbed_share": (
            float(res.success.float().mean()),
            "share of the similarity test points N1's greedy L2 PGD turned adversarial",
        ),
    }
    what = {
        "agreement_clean": "share of clean test points where N1 and {b} predict the same class",
        "agreement_adv": "share of N1's adversarial test points where N1 and {b} agree",
        "grad_cosine": "mean cosine of N1's and {b}'s margin-loss input gradients at the test "
        "points",
    }
    for who, label in (("n2", "N2"), ("baseline", "an independently trained clean network")):
        for m, desc in what.items():
            scalars[f"{who}_{m}"] = (sim[who][m], desc.format(b=label))
    return xr.Dataset(
        {k: var(np.float64(v), (), desc) for k, (v, desc) in scalars.items()},
        attrs={
            "scheme": scheme,
            "seed": seed,
            "n_classes": n_classes,
            "n_train": len(t),
            "similarity_samples": int(xs.shape[0]),
            "baseline": "trained in this job (seed 40000 + seed)"
            if trained_baseline
            else "the clean classifier of another configured seed",
        },
    )


# ----------------------------------------------------------------------------- metrics


def dmm_metrics(
    dataset: str,
    autoencoder: xr.Dataset,
    tangents: xr.Dataset,
    trainings: dict[str, list[xr.Dataset]],
    attacks: dict[str, list[xr.Dataset]],
    distances: dict[str, list[xr.Dataset]],
    mislabeled: dict[str, list[xr.Dataset]],
    prefix: str = "dmm_natural",
    controls: dict[str, list[xr.Dataset]] | None = None,
) -> dict:
    """Headline numbers keyed ``dmm_natural/<dataset>[-<variant>]/<metric>`` (README)."""
    m: dict = {}
    base = f"{prefix}/{dataset}"
    n, k = int(tangents.attrs["n_features"]), int(tangents.attrs["k"])
    ref = expected_random_ratio(n, k)
    m[f"{base}/autoencoder_test_l2"] = dist_stat([autoencoder.test_l2.values])
    m[f"{base}/autoencoder_test_mse"] = dist_stat([autoencoder.test_mse.values])
    m[f"{base}/tangent_fd_min_cosine"] = dist_stat([tangents.fd_min_cosine.values])
    m[f"{base}/k"] = k
    m[f"{base}/n_features"] = n
    m[f"{base}/sqrt_n_over_k"] = ref["sqrt_n_over_k"]
    m[f"{base}/rms_random_ratio_exact"] = ref["rms_exact"] if k > 2 else None
    m[f"{base}/sqrt_k_over_n"] = math.sqrt(k / n)
    for v, runs in trainings.items():
        m[f"{base}-{v}/test_accuracy"] = seed_stat([float(r.test_accuracy[-1]) for r in runs])
        m[f"{base}-{v}/train_accuracy"] = seed_stat([float(r.train_accuracy[-1]) for r in runs])
    for v, runs in attacks.items():
        key = f"{base}-{v}"
        ok = [r.pgd_success.values for r in runs]
        m[f"{key}/analysed_images"] = seed_stat([r.sizes["sample"] for r in runs])
        m[f"{key}/pgd_success_rate"] = seed_stat([float(np.mean(o)) for o in ok])
        m[f"{key}/pgd_distance"] = dist_stat(
            [r.pgd_norm.values[o] for r, o in zip(runs, ok, strict=True)]
        )
        for name, var_ in (
            ("norm_ratio", "ratio"),
            ("norm_ratio_random_subspace", "ratio_random_subspace"),
            ("norm_ratio_random_vector", "ratio_random_vector"),
            ("on_manifold_relative_effect", "on_effect"),
            ("gradient_on_manifold_share", "grad_on_share"),
            ("l2_object_share", "l2_object_share"),
            ("linf_object_share", "linf_object_share"),
            ("object_pixel_share", "object_pixel_share"),
        ):
            m[f"{key}/{name}"] = dist_stat([r[var_].values for r in runs])
        m[f"{key}/norm_ratio_below_sqrt2_share"] = seed_stat(
            [mean_finite(finite_values(r.ratio.values) < math.sqrt(2)) for r in runs]
        )
        for p in PATHS:
            m[f"{key}/{p}_projection_flip_rate"] = seed_stat(
                [
                    mean_finite(r.path_flips.sel(path=p).values[o])
                    for r, o in zip(runs, ok, strict=True)
                ]
            )
        for a in ATTACKS:
            m[f"{key}/{a}_pgd_distance"] = dist_stat(
                [r.c_distance.sel(attack=a).values for r in runs]
            )
            m[f"{key}/{a}_pgd_success_rate"] = seed_stat(
                [float(r.c_success.sel(attack=a).mean()) for r in runs]
            )
        ratios = []
        for r in runs:
            on, off = (mean_finite(r.c_distance.sel(attack=a).values) for a in ("on", "off"))
            ratios.append(on / off)
        m[f"{key}/on_over_off_distance"] = seed_stat(ratios)
        m[f"{key}/linf_success_rate"] = seed_stat([float(r.linf_success.mean()) for r in runs])
    for trained in ("adversarial", "noise"):
        if not {"clean", trained} <= set(attacks):
            continue
        for name, fn in (
            ("off_pgd_distance", lambda r: r.c_distance.sel(attack="off").values),
            ("on_pgd_distance", lambda r: r.c_distance.sel(attack="on").values),
            ("gradient_on_manifold_share", lambda r: r.grad_on_share.values),
        ):
            pairs = zip(attacks["clean"], attacks[trained], strict=False)
            vals = []
            for c, a in pairs:
                vals.append(mean_finite(fn(a)) / mean_finite(fn(c)))
            m[f"{base}/{trained}_over_clean_{name}"] = seed_stat(vals)
    for v, runs in (controls or {}).items():
        key = f"{base}-{v}"
        for a in ("on", "off"):
            m[f"{key}/random_subspace_{a}_pgd_distance"] = dist_stat(
                [r.q_distance.sel(attack=a).values for r in runs]
            )
            m[f"{key}/random_subspace_{a}_pgd_success_rate"] = seed_stat(
                [float(r.q_success.sel(attack=a).mean()) for r in runs]
            )
        m[f"{key}/random_subspace_on_over_off_distance"] = seed_stat(
            [
                mean_finite(r.q_distance.sel(attack="on").values)
                / mean_finite(r.q_distance.sel(attack="off").values)
                for r in runs
            ]
        )
        for name, var_ in (
            ("on_over_off_per_image", "m_on_over_off"),
            ("linear_on_over_off", "m_linear_on_over_off"),
            ("random_subspace_on_over_off_per_image", "q_on_over_off"),
            ("random_subspace_linear_on_over_off", "q_linear_on_over_off"),
            ("gradient_random_subspace_share", "grad_q_share"),
            ("random_start_pgd_distance", "rs_norm"),
            ("random_start_norm_ratio", "rs_ratio"),
            ("random_start_norm_ratio_random_subspace", "rs_ratio_random_subspace"),
            ("l2_uniform_object_share", "l2_uniform_object_share"),
            ("linf_uniform_object_share", "linf_uniform_object_share"),
        ):
            m[f"{key}/{name}"] = dist_stat([r[var_].values for r in runs])
        m[f"{key}/random_start_pgd_success_rate"] = seed_stat(
            [float(r.rs_success.mean()) for r in runs]
        )
    for v, runs in distances.items():
        key = f"{base}-{v}"
        curves = np.stack([[mean_finite(row) for row in r.distance.values] for r in runs])
        epochs = runs[0].epoch.values
        per_epoch = [seed_stat(curves[:, j]) for j in range(len(epochs))]
        m[f"{key}/boundary_distance_curve"] = {
            "epoch": [int(e) for e in epochs],
            "mean": [s["mean"] for s in per_epoch],
            "std": [s["std"] for s in per_epoch],
            "n_seeds": len(runs),
        }
        m[f"{key}/boundary_distance_initial"] = seed_stat(curves[:, 0])
        finite = np.where(np.isfinite(curves), curves, np.inf)
        has = np.isfinite(curves).any(axis=1)
        m[f"{key}/boundary_distance_min"] = seed_stat(np.where(has, finite.min(axis=1), np.nan))
        m[f"{key}/boundary_distance_argmin_epoch"] = seed_stat(
            np.where(has, epochs[finite.argmin(axis=1)], np.nan)
        )
        m[f"{key}/boundary_distance_final"] = seed_stat(curves[:, -1])
        m[f"{key}/boundary_found_share"] = seed_stat(
            [float(np.isfinite(r.distance.values[-1]).mean()) for r in runs]
        )
    for scheme, runs in mislabeled.items():
        key = f"{base}-mislabeled_{scheme}"
        for name in (
            "n1_test_accuracy",
            "n1_target_rate",
            "perturbation_norm",
            "n2_test_accuracy",
            "n2_test_accuracy_shifted",
            "n2_train_accuracy",
            "control_test_accuracy",
            *(
                f"{who}_{what}"
                for who in ("n2", "baseline")
                for what in ("agreement_clean", "agreement_adv", "grad_cosine")
            ),
            "similarity_perturbed_share",
        ):
            m[f"{key}/{name}"] = seed_stat([float(r[name]) for r in runs])
        m[f"{key}/chance"] = float(runs[0].chance)
    return m
