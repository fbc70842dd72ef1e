"""Experiments of the Squiggles study (Kindermans & Staats, Sec. 3-4): classifiers
trained with optional Gaussian pixel noise, within/cross-variant generalization
(Table 6), latent-space (on-manifold) PGD with the true label recomputed (Fig. 9),
the distance to the true decision boundary steered by a navigator model (Sec. 3,
Fig. 8), pixel-space PGD against a Gaussian-noise attack of equal L2 norm (Fig. 10)
and the on/off-manifold decomposition of attack vectors through the generator's
Jacobian (Fig. 11).

Choices where the paper leaves room (each also in the README):

* Latent PGD is plain L2 PGD (CleverHans style: no random start, no early stop,
  ``steps`` iterations of ``eps / step_ratio`` along the normalised gradient of the
  model's cross-entropy, projected onto the eps-ball around the clean latent). Taylor
  latents are also clipped to their prior's support [-1, 1] (leaving it leaves the
  data distribution); SineNet latents are unbounded (phase is periodic, a, b, omega
  Gaussian).
* Distance to the true boundary: the navigator model (trained on the other variant)
  is attacked towards the opposite of the sample's true label at every eps of the
  grid; the distance is the smallest eps whose final iterate has a different true
  label (inf when none does). A sample whose label flips at some eps is not attacked
  at larger eps (its minimum is already known). Measured for the attacked curves, every
  misclassified test curve of the sigma-0 model under test (or a random ``n_misclassified``
  of them) and a random sample of its correctly classified ones at least as large (the
  attacked correct ones count), so generalization errors are numerous enough to judge.
  The search is repeated with each steering model of ``squiggles.distance.steering``
  (the other variant's models at those noise levels) on the same curves; how often the
  steering model agrees with the model under test is reported per group.
* Pixel attacks are not clipped to [0, 1]: the paper's noise training is unclipped
  (its "expected l2 norm 4.8" of sigma = 0.08 noise on 3600 pixels), so both the
  PGD and the Gaussian-noise attack perturb the image as a vector in R^(n*n), with
  exactly norm eps for the noise. PGD uses the project's greedy PGD (a sample stops
  when misclassified, which does not change which samples can be fooled).
* Gaussian-noise attack: ``draws`` directions ``u ~ N(0, I)`` rescaled to norm eps;
  the reported accuracy is the mean over draws (the accuracy under random noise of
  that norm), with also the fraction of samples that at least one draw fools.
* Tangent space of the image manifold at ``x = decode(z)``: the column space of the
  decoder Jacobian ``d decode / d z`` (forward mode), truncated to the singular values
  above ``rtol`` times the largest: the decoder is rank-deficient by construction
  (0.8-extent rescale) and SineNet's is numerically low-rank. The on-manifold share
  of an attack vector ``d`` is ``|U^T d|^2 / |d|^2``; the control is the share of
  ``d`` in a random subspace of the same rank (expected rank / n^2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from scipy.stats import rankdata
from torch import nn
from torch.func import jacfwd

from pipeline_lib.attacks import LOSSES, margin_loss, pgd
from pipeline_lib.invariants import check_ball, check_box, check_orthonormal
from pipeline_lib.models import batched, build_model
from pipeline_lib.progress import bar
from pipeline_lib.resume import Resume
from pipeline_lib.training import TrainingState, check_finite
from pipeline_lib.zarr_io import var

from . import generators as sq

ARCHS = {"cnn": "squiggle_cnn", "resnet34": "resnet34_gray"}
BIG = 1e6  # "no box" for the project's PGD


# ----------------------------------------------------------------------------- models


def build_classifier(cfg: dict, resolution: int) -> tuple[nn.Module, str, dict]:
    """The configured classifier for ``resolution`` x ``resolution`` images, 2 classes."""
    kind = ARCHS[cfg["arch"]]
    kwargs: dict = {"in_shape": (1, int(resolution), int(resolution)), "n_classes": 2}
    if cfg["arch"] == "cnn":
        kwargs.update(width=int(cfg["width"]), blocks=int(cfg["blocks"]))
    return build_model(kind, **kwargs), kind, kwargs


@dataclass(frozen=True)
class CurveStream:
    """A training split generated while training instead of read from a store: the
    first ``n`` curves of (variant, seed, "train") at ``resolution``, in chunks of
    ``chunk`` curves (:func:`generators.curve_chunk`: the same curves a stored set of
    that split holds), made by ``workers`` DataLoader worker processes ahead of the
    training (0: in the training process). Memory is a few chunks, whatever ``n``."""

    variant: str
    seed: int
    n: int
    resolution: int
    chunk: int = 8192
    workers: int = 1


def _stream_seed(*key: int) -> int:
    """A 63-bit seed from integers (SeedSequence's hash of them)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


def chunk_order(stream: CurveStream, chunk: int, seed: int, epoch: int) -> list[int]:
    """The order an epoch visits a stream's chunks: a permutation seeded by the training
    seed and the epoch alone (so a resumed run, and any worker, draws the same)."""
    gen = torch.Generator().manual_seed(_stream_seed(seed, epoch))
    return torch.randperm(math.ceil(stream.n / chunk), generator=gen).tolist()


class _StreamChunks(torch.utils.data.IterableDataset):
    """Epochs ``epochs`` of a :class:`CurveStream`, chunk by chunk in each epoch's
    :func:`chunk_order`: item ``g`` of the whole sequence is made by worker ``g mod W``,
    which the DataLoader reads round robin, so the sequence is the same for any number
    of workers. Items are (epoch, chunk index, images, labels)."""

    def __init__(self, stream: CurveStream, chunk: int, seed: int, epochs: list[int]):
        super().__init__()
        self.stream, self.chunk, self.seed, self.epochs = stream, chunk, seed, epochs

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        k, w = (info.id, info.num_workers) if info is not None else (0, 1)
        st, g = self.stream, 0
        for e in self.epochs:
            for c in chunk_order(st, self.chunk, self.seed, e):
                if g % w == k:
                    start = c * self.chunk
                    m = min(self.chunk, st.n - start)
                    x, y = sq.curve_chunk(st.variant, st.seed, "train", start, m, st.resolution)
                    yield e, c, x, y
                g += 1


def _stored_batches(x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: torch.Generator):
    perm = torch.randperm(x.shape[0], generator=shuffle)
    for s in range(0, x.shape[0], batch):
        idx = perm[s : s + batch]
        yield x[idx], y[idx]


def stream_batches(stream: CurveStream, batch: int, seed: int, epochs: list[int]):
    """The batches of ``epochs`` of a stream, as (epoch, images, labels): the chunks are
    made by the stream's workers (started once for all the epochs, so only the first
    chunk is waited for), each shuffled here by its own generator (training seed,
    epoch, chunk) and cut into batches."""
    chunk = batch * max(1, stream.chunk // batch)  # whole batches per chunk
    data = _StreamChunks(stream, chunk, seed, list(epochs))
    workers = max(0, int(stream.workers))
    loader = torch.utils.data.DataLoader(
        data, batch_size=None, num_workers=workers, prefetch_factor=2 if workers else None
    )
    for e, c, x, y in loader:
        gen = torch.Generator().manual_seed(_stream_seed(seed, e, c))
        perm = torch.randperm(x.shape[0], generator=gen)
        for s in range(0, x.shape[0], batch):
            idx = perm[s : s + batch]
            yield e, x[idx], y[idx]


def train_classifier(
    model: nn.Module,
    x: torch.Tensor | None,
    y: torch.Tensor | None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    noise_sigma: float,
    seed: int,
    name: str = "classifier",
    evaluate: Callable[[nn.Module], dict] | None = None,
    log: Callable[[str], None] = print,
    resume: Resume | None = None,
    stream: CurveStream | None = None,
    max_batches: int | None = None,
) -> xr.Dataset:
    """Adam (beta 0.9 / 0.999, eps 1e-8, Table 5) with cosine decay of the learning rate
    to 0 over all steps; every batch gets fresh Gaussian pixel noise of std
    ``noise_sigma`` (unclipped, Sec. 4.6) when it is > 0. ``evaluate(model)`` runs
    after every epoch (e.g. test accuracy). ``resume``: save the training state every
    few epochs and go on from a saved one. The training curves are ``x, y`` or, with
    ``stream`` (x and y None), generated while training. ``max_batches`` stops each
    epoch after that many batches (benchmarks). Returns the per-epoch history."""
    if (stream is None) == (x is None):
        raise ValueError("give the training curves x, y or a stream, not both")
    dev = next(model.parameters()).device
    n = stream.n if stream is not None else x.shape[0]
    per_epoch = math.ceil(n / batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * per_epoch))
    shuffle = torch.Generator().manual_seed(seed)
    noise = torch.Generator().manual_seed(seed + 1_000_003)
    hist: dict[str, list[float]] = {"loss": [], "lr": []}
    evals: dict[str, list[float]] = {}
    state = {"hist": hist, "evals": evals}  # both in the saved history
    training = TrainingState(model, opt, shuffle, state, sched, {"noise": noise})
    start = training.restore(resume)
    hist, evals = state["hist"], state["evals"]
    if stream is not None:
        if max_batches is not None and epochs > 1:
            raise ValueError("max_batches with a stream: one epoch only")
        streamed = stream_batches(stream, batch_size, seed, list(range(start, epochs + 1)))
    for epoch in range(start, epochs + 1):
        model.train()
        if stream is None:
            batches = _stored_batches(x, y, batch_size, shuffle)
        else:  # this epoch's share of the one stream
            batches = (b[1:] for b in itertools.islice(streamed, per_epoch))
        total, seen = 0.0, 0
        for i, (xb, yb) in enumerate(bar(batches, per_epoch, f"{name} epoch {epoch}/{epochs}")):
            if max_batches is not None and i >= max_batches:
                break
            if noise_sigma > 0:
                xb = xb + noise_sigma * torch.randn(xb.shape, generator=noise)
            loss = nn.functional.cross_entropy(model(xb.to(dev)), yb.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        mean = total / max(1, seen)
        check_finite(mean, name, epoch)
        hist["loss"].append(mean)
        hist["lr"].append(sched.get_last_lr()[0])
        model.eval()
        stats = evaluate(model) if evaluate is not None else {}
        for k, v in stats.items():
            evals.setdefault(k, []).append(float(v))
        log(
            f"{name} epoch {epoch}: loss {mean:.4f} "
            + " ".join(f"{k} {v:.4f}" for k, v in stats.items())
        )
        training.save(resume, epoch, epochs)
    model.eval()
    data = {
        "loss": var(np.array(hist["loss"]), ("epoch",), "mean training cross-entropy"),
        "lr": var(np.array(hist["lr"]), ("epoch",), "learning rate at the end of the epoch"),
    }
    for k, v in evals.items():
        data[k] = var(np.array(v), ("epoch",), f"{k} after the epoch")
    return xr.Dataset(data, coords={"epoch": np.arange(1, epochs + 1)})


def fig3_store(
    model: nn.Module,
    variant: str,
    data: xr.Dataset,
    latent: xr.Dataset,
    pixel_eps,
    *,
    n: int,
    steps: int,
    step_ratio: float,
    loss: str,
) -> xr.Dataset:
    """Fig. 3: the first ``n`` attacked test curves under L2 PGD at growing eps, (a) in
    pixel space, (b) in latent space, side by side.

    (a) Pixel PGD on the image at every eps of ``pixel_eps``, all ``steps`` steps of
    eps / ``step_ratio`` (no early stop, so that each eps shows its whole budget;
    unclipped, as the pixel attack), with the model's prediction. (b) The latent
    attack's points at every eps of the latent store (its PGD, the true label recomputed
    on the decoded curve) decoded to images, with the model's prediction and that true
    label."""
    sel = slice(0, n)
    x = torch.as_tensor(data.image.values[sel].astype(np.float32))
    y = torch.as_tensor(data.label.values[sel].astype(np.int64))
    dev = next(model.parameters()).device
    res = data.attrs["resolution"]
    eps_p = np.asarray(pixel_eps, dtype=np.float64)
    px = np.zeros((len(eps_p), *x.shape), np.float32)
    for k, e in enumerate(eps_p):
        r = pgd(
            model,
            x.to(dev),
            y.to(dev),
            norm="l2",
            eps=float(e),
            step_size=float(e) / step_ratio,
            steps=steps,
            early_stop=False,
            box=(-BIG, BIG),
            loss=loss,
        )
        px[k] = r.x_adv.cpu().numpy()
    lat = latent.isel(sample=sel)
    z = torch.as_tensor(lat.latent_adv.values, dtype=torch.float64)  # (sample, eps, dim)
    ns, ne = z.shape[:2]
    imgs = sq.decode(variant, z.reshape(ns * ne, -1), res).reshape(ns, ne, 1, res, res)
    li = imgs.permute(1, 0, 2, 3, 4).float().numpy()  # (eps, sample, 1, h, w)

    def pred(images: np.ndarray) -> np.ndarray:
        flat = torch.as_tensor(images.reshape(-1, *images.shape[2:]))
        return (predict_proba(model, flat) > 0.5).astype(np.int8).reshape(images.shape[:2])

    img_dims = ("channel", "row", "col")
    return xr.Dataset(
        {
            "image": var(
                data.image.values[sel].astype(np.float32), ("sample", *img_dims), "clean image"
            ),
            "label": var(y.numpy().astype(np.int8), ("sample",), "true label of the clean curve"),
            "clean_pred": var(
                pred(x.numpy()[None])[0], ("sample",), "model's label on the clean image"
            ),
            "pixel_adv": var(
                px, ("pixel_eps", "sample", "channel", "row", "col"), "pixel PGD image (all steps)"
            ),
            "pixel_pred": var(
                pred(px), ("pixel_eps", "sample"), "model's label on the pixel PGD image"
            ),
            "latent_adv": var(
                li,
                ("latent_eps", "sample", "channel", "row", "col"),
                "latent PGD point decoded to an image",
            ),
            "latent_pred": var(
                pred(li), ("latent_eps", "sample"), "model's label on the decoded latent PGD point"
            ),
            "latent_label": var(
                lat.label_adv.values.T.astype(np.int8),
                ("latent_eps", "sample"),
                "true label of the decoded latent PGD point (recomputed)",
            ),
        },
        coords={
            "sample": data.sample.values[sel],
            "pixel_eps": eps_p,
            "latent_eps": lat.eps.values,
            "channel": [0],
            "row": np.arange(res),
            "col": np.arange(res),
        },
        attrs={
            "variant": variant,
            "steps": int(steps),
            "step_ratio": float(step_ratio),
            "loss": loss,
        },
    )


def discriminator_store(
    classifier: dict,
    resolution: int,
    *,
    n_train: int,
    n_test: int,
    epochs: int,
    seed: int,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """The footnote of Sec. 4.2: "the distributions from Taylor and SineNet samples are
    different", checked by a classifier trained to tell the generators apart.

    Curves of both generators from the ``val`` split's streams (independent of every
    train and test set), shard 1 for training (``n_train`` per generator) and shard 2
    for testing (``n_test`` per generator); the label is the generator (0 Taylor, 1
    SineNet). The network is the study's classifier (``classifier``: arch, widths,
    lr, batch size) trained ``epochs`` epochs by :func:`train_classifier` without
    noise. The control: the generators' self-intersection rates differ, so the
    self-intersection label alone tells them apart better than chance; its best
    predictor (each label mapped to the generator it is more frequent in, on the
    training curves) is scored on the same test curves."""
    parts = {}
    for split, n, shard in (("train", n_train, 1), ("test", n_test, 2)):
        sets = [
            sq.make_dataset(v, n, seed, "val", resolution, shard=shard)
            for v in ("taylor", "sinenet")
        ]
        x = torch.as_tensor(np.concatenate([d.image.values for d in sets]))
        gen = np.repeat([0, 1], n)
        intersect = np.concatenate([d.label.values for d in sets]).astype(np.int64)
        parts[split] = (x, gen, intersect)
    torch.manual_seed(seed)
    model, _, _ = build_classifier(classifier, resolution)
    model.to(device)
    x_tr, g_tr, i_tr = parts["train"]
    x_te, g_te, i_te = parts["test"]
    hist = train_classifier(
        model,
        x_tr,
        torch.as_tensor(g_tr),
        epochs=epochs,
        lr=classifier["lr"],
        batch_size=classifier["batch_size"],
        noise_sigma=0.0,
        seed=seed,
        name="generator discriminator",
        log=log,
    )
    p_sine = predict_proba(model, x_te)
    # the label-only control: each self-intersection label -> its more frequent generator
    rule = {
        lab: int(np.mean(g_tr[i_tr == lab]) > 0.5) if np.any(i_tr == lab) else 0 for lab in (0, 1)
    }
    label_only = np.array([rule[int(lab)] for lab in i_te])
    return xr.Dataset(
        {
            "generator": var(g_te, ("sample",), "generator of the test curve: 0 Taylor, 1 SineNet"),
            "intersects": var(i_te, ("sample",), "self-intersection label of the test curve"),
            "p_sinenet": var(p_sine, ("sample",), "discriminator's probability of SineNet"),
            "correct": var(
                (p_sine > 0.5).astype(np.int64) == g_te,
                ("sample",),
                "the discriminator names the test curve's generator",
            ),
            "label_only_correct": var(
                label_only == g_te,
                ("sample",),
                "control: the generator predicted from the self-intersection label alone",
            ),
            "train_loss": var(hist.loss.values, ("epoch",), "mean training cross-entropy"),
        },
        coords={"sample": np.arange(len(g_te)), "epoch": hist.epoch.values},
        attrs={
            "n_train_per_generator": int(n_train),
            "n_test_per_generator": int(n_test),
            "epochs": int(epochs),
            "seed": int(seed),
            "resolution": int(resolution),
            "arch": classifier["arch"],
            "roc_auc": roc_auc(g_te, p_sine),
        },
    )


# the paper's Sec. 4.2 data ablation (SineNet, within distribution): training curves ->
# test accuracy, for comparison with the size sweep (not judged: another architecture and
# training budget)
PAPER_SIZE_ACCURACY = ((32_758, 0.8935), (2_000_000, 0.9795), (66_355_200, 0.9875))


def size_point(
    training: xr.Dataset, latent: xr.Dataset, pixel0: xr.Dataset, pixel: xr.Dataset, n: int
) -> dict:
    """One point of the training-set size sweep: the sigma-0 model's clean test accuracy
    (its whole test set), the latent attack's accuracy at its most effective eps and the
    noise-trained model's share of the sigma-0 model's successful pixel attacks it
    resists at the focus eps (``(acc_s - acc_0) / (1 - acc_0)``), both on the first
    ``n`` attacked curves (the main models attack more: their first ``n`` are the same
    curves)."""
    lat = latent.isel(sample=slice(0, n))
    acc = latent_curves(lat)["accuracy"]
    best = int(np.argmin(acc))
    focus = []
    for px in (pixel0, pixel):
        px = px.isel(sample=slice(0, n))
        focus.append(float(pixel_curves(px)["pgd_accuracy"][focus_index(px)]))
    lo, hi = focus
    return {
        "clean_accuracy": float(training.test_accuracy.values[-1]),
        "latent_min_accuracy": float(acc[best]),
        "latent_best_eps": float(lat["eps"].values[best]),
        "pixel_accuracy_sigma0": lo,
        "pixel_accuracy_noise": hi,
        "noise_explained_fraction": (hi - lo) / (1 - lo) if lo < 1 else None,
        "n_train": int(training.attrs["n_train"]),
        "epochs": int(training.sizes["epoch"]),
    }


def size_sweep_metrics(points: dict[str, list[tuple[int, int, dict]]], n: int) -> dict:
    """metrics.json of the size sweep: per analysis variant, ``squiggles/size_sweep/
    {variant}/points`` (one :func:`size_point` per size and seed, with ``size`` and
    ``seed``), the per-size means ``by_size`` and the paper's Sec. 4.2 points."""
    m: dict = {}
    for v, pts in points.items():
        rows = [
            {"size": int(size), "seed": int(seed), **size_point(*st, n)} for size, seed, st in pts
        ]
        m[f"squiggles/size_sweep/{v}/points"] = rows
        by = {}
        for size in sorted({r["size"] for r in rows}):
            mine = [r for r in rows if r["size"] == size]
            by[str(size)] = {
                k: _seed_stat([r[k] for r in mine if r[k] is not None])
                for k in ("clean_accuracy", "latent_min_accuracy", "noise_explained_fraction")
            }
        m[f"squiggles/size_sweep/{v}/by_size"] = by
        m[f"squiggles/size_sweep/{v}/n_attacked"] = int(n)
    m["squiggles/size_sweep/paper_sec42_accuracy"] = [
        {"size": s, "accuracy": a} for s, a in PAPER_SIZE_ACCURACY
    ]
    return m


def pixel_correct_at(pixel: xr.Dataset, eps: float, n: int) -> np.ndarray:
    """Per curve (the first ``n`` attacked): the model still classifies it correctly after
    pixel PGD at ``eps`` (1.0) or not (0.0); ``eps`` must be on the store's grid."""
    grid = pixel["eps"].values
    i = int(np.argmin(np.abs(grid - eps)))
    if not np.isclose(grid[i], eps, rtol=1e-6):
        raise ValueError(f"eps {eps:g} is not on the pixel store's grid {list(grid)}")
    return 1.0 - pixel["pgd_success"].values[:n, i].astype(float)


def resolution_point(st: dict, factor: int, n: int, focus: float) -> dict:
    """One model pair of the resolution study (Sec. 4.7) at ``factor`` x the base side:
    both models' clean test accuracy, the latent attack's accuracy at its most effective
    eps, and pixel-PGD accuracy at the focus eps (both models) and at the focus eps x
    ``factor`` (the same perturbation per pixel), on the first ``n`` attacked curves."""
    lat = st["latent"].isel(sample=slice(0, n))
    acc = latent_curves(lat)["accuracy"]
    best = int(np.argmin(acc))
    scaled = focus * factor
    return {
        "clean_accuracy": float(st["training"].test_accuracy.values[-1]),
        "clean_accuracy_noise": float(st["training_noise"].test_accuracy.values[-1]),
        "latent_min_accuracy": float(acc[best]),
        "latent_best_eps": float(lat["eps"].values[best]),
        "pixel_accuracy_sigma0": float(pixel_correct_at(st["pixel0"], focus, n).mean()),
        "pixel_accuracy_noise": float(pixel_correct_at(st["pixel"], focus, n).mean()),
        "pixel_accuracy_sigma0_scaled": float(pixel_correct_at(st["pixel0"], scaled, n).mean()),
        "pixel_accuracy_noise_scaled": float(pixel_correct_at(st["pixel"], scaled, n).mean()),
    }


RES_KEYS = (
    "clean_accuracy",
    "clean_accuracy_noise",
    "latent_min_accuracy",
    "pixel_accuracy_sigma0",
    "pixel_accuracy_noise",
    "pixel_accuracy_sigma0_scaled",
    "pixel_accuracy_noise_scaled",
)


def resolution_metrics(
    points: dict[str, list[tuple[int, int, dict]]], n: int, focus: float, base: int
) -> dict:
    """metrics.json of the resolution study: per analysis variant, ``squiggles/resolution/
    {variant}/points`` (one :func:`resolution_point` per factor and seed), ``by_factor``
    (seed statistics of each number) and ``curves`` (per factor, seed means on the first
    ``n`` curves: pixel-PGD accuracy of both models and latent accuracy against eps)."""
    m: dict = {
        "squiggles/resolution/base_resolution": int(base),
        "squiggles/resolution/focus_eps": float(focus),
    }
    for v, pts in points.items():
        rows = []
        curves: dict[str, dict] = {}
        for factor, seed, st in pts:
            rows.append(
                {
                    "factor": int(factor),
                    **resolution_point(st, factor, n, focus),
                    "resolution": int(base) * int(factor),
                    "seed": int(seed),
                }
            )
            c = curves.setdefault(str(factor), {"pgd_sigma0": [], "pgd_noise": [], "latent": []})
            px0 = st["pixel0"].isel(sample=slice(0, n))
            c["pixel_eps"] = [float(e) for e in px0["eps"].values]
            c["pgd_sigma0"].append(pixel_curves(px0)["pgd_accuracy"])
            px = st["pixel"].isel(sample=slice(0, n))
            c["pgd_noise"].append(pixel_curves(px)["pgd_accuracy"])
            lat = st["latent"].isel(sample=slice(0, n))
            c["latent_eps"] = [float(e) for e in lat["eps"].values]
            c["latent"].append(latent_curves(lat)["accuracy"])
        for c in curves.values():
            for k in ("pgd_sigma0", "pgd_noise", "latent"):
                c[k] = [float(x) for x in np.mean(c[k], axis=0)]
        m[f"squiggles/resolution/{v}/points"] = rows
        m[f"squiggles/resolution/{v}/by_factor"] = {
            str(f): {k: _seed_stat([r[k] for r in rows if r["factor"] == f]) for k in RES_KEYS}
            for f in sorted({r["factor"] for r in rows})
        }
        m[f"squiggles/resolution/{v}/curves"] = curves
        m[f"squiggles/resolution/{v}/n_attacked"] = int(n)
    return m


def discriminator_metrics(store: xr.Dataset) -> dict:
    """``squiggles/discriminator/{test_accuracy, label_only_accuracy, roc_auc,
    n_test}``."""
    return {
        "squiggles/discriminator/test_accuracy": float(store.correct.mean()),
        "squiggles/discriminator/label_only_accuracy": float(store.label_only_correct.mean()),
        "squiggles/discriminator/roc_auc": float(store.attrs["roc_auc"]),
        "squiggles/discriminator/n_test": int(store.sizes["sample"]),
    }


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch: int = 500) -> np.ndarray:
    """P(label 1 = self-intersecting) for every image (model in eval mode)."""
    model.eval()
    if x.shape[0] == 0:
        return np.zeros(0, np.float32)
    return batched(model, x, batch, lambda out: out.softmax(1)[:, 1].cpu()).numpy()


def roc_auc(y, score) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count 1/2); NaN with one class."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def generalization(model: nn.Module, tests: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """Accuracy and ROC-AUC of one model on each variant's test set (Table 6)."""
    out = {}
    for v, (x, y) in tests.items():
        p = predict_proba(model, x)
        out[v] = {
            "accuracy": float(((p > 0.5).astype(int) == y.numpy()).mean()),
            "roc_auc": roc_auc(y.numpy(), p),
            "proba": p,
        }
    return out


def with_generalization(hist: xr.Dataset, gen: dict[str, dict]) -> xr.Dataset:
    """The training store ``hist`` with Table 6 added: per test variant (in the order of
    ``gen``, from :func:`generalization`) the accuracy, the ROC-AUC and P(self-
    intersecting) of every test curve."""
    tv = list(gen)
    return hist.assign(
        accuracy=var(
            np.array([gen[v]["accuracy"] for v in tv]),
            ("test_variant",),
            "accuracy on each variant's test set (Table 6)",
        ),
        roc_auc=var(
            np.array([gen[v]["roc_auc"] for v in tv]),
            ("test_variant",),
            "ROC-AUC of P(self-intersecting) on each variant's test set (Table 6)",
        ),
        test_proba=var(
            np.stack([gen[v]["proba"] for v in tv]),
            ("test_variant", "sample"),
            "P(self-intersecting) on each test curve",
        ),
    ).assign_coords(test_variant=tv)


def attack_inputs(data: xr.Dataset, n: int | None = None):
    """The first ``n`` curves of a dataset store and their tensors: (subset, latent z,
    image x, label y as int64)."""
    sub = data if n is None else data.isel(sample=slice(0, n))
    return (
        sub,
        torch.as_tensor(sub["latent"].values),
        torch.as_tensor(sub["image"].values),
        torch.as_tensor(sub["label"].values).long(),
    )


# ----------------------------------------------------------------------------- latent PGD


def latent_box(variant: str) -> tuple[float, float] | None:
    """The prior's support to clip latents to: Taylor [-1, 1]; SineNet unbounded."""
    return (-1.0, 1.0) if variant == "taylor" else None


def latent_pgd(
    model: nn.Module,
    variant: str,
    z: torch.Tensor,
    target: torch.Tensor,
    eps: torch.Tensor,
    *,
    steps: int,
    step_ratio: float,
    resolution: int,
    towards: bool = False,
    loss: str = "cross_entropy",
) -> torch.Tensor:
    """L2 PGD in latent space through the exact decoder (see the module docstring).

    ``eps`` is per sample. ``towards=False`` ascends the model's cross-entropy of label
    ``target`` (untargeted attack on the true label); ``towards=True`` descends it (a
    targeted attack towards ``target``). ``loss="margin"`` uses the margin instead
    (untargeted: best other logit minus the true one; towards: the target's logit minus
    the best other), the pixel attack's alternative. Returns the final latents (no
    early stop)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    dev = next(model.parameters()).device
    z0 = z.detach().to(dev)
    eps = eps.to(z0)
    step = (eps / step_ratio)[:, None]
    target = target.to(dev)
    box = latent_box(variant)
    sign = -1.0 if towards else 1.0
    d = torch.zeros_like(z0)
    # Not attacks.pgd: this loop iterates the perturbation d (step ``d + step * g / |g|``,
    # ball projection ``d * min(1, eps / |d|)``, box as ``clamp(z0 + d) - z0``), while pgd
    # iterates the point z0 + d with fused ``addcmul`` steps and projections; the two round
    # differently, so the latents (and every store built from them) would not stay bitwise
    # equal. Its default objective (summed cross-entropy, either sign) is pgd's option.
    for _ in range(steps):
        d.requires_grad_(True)
        img = sq.decode(variant, z0 + d, resolution)
        logits = model(img)
        if loss == "cross_entropy":
            obj = sign * nn.functional.cross_entropy(logits, target, reduction="sum")
        else:
            obj = margin_loss(logits, target, target if towards else None).sum()
        (g,) = torch.autograd.grad(obj, d)
        with torch.no_grad():
            gn = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
            d = d.detach() + step * g / gn
            dn = d.norm(dim=1, keepdim=True).clamp_min(1e-12)
            d = d * torch.clamp(eps[:, None] / dn, max=1.0)
            if box is not None:
                d = (z0 + d).clamp(*box) - z0
    z_adv = z0 + d.detach()
    check_ball(z_adv, z0, eps, "l2", f"{variant} latent PGD")
    if box is not None and steps > 0:
        check_box(z_adv, *box, f"{variant} latent PGD")
    return z_adv.cpu()


@torch.no_grad()
def true_labels(variant: str, z: torch.Tensor) -> np.ndarray:
    """Recompute the ground-truth label of latents (Sec. 4.4)."""
    return sq.labels(sq.curve_points(variant, z.float().cpu()).numpy())


def _eps_batches(n: int, n_eps: int, batch: int):
    """(sample, eps) index arrays of the flattened grid, in chunks of ``batch``."""
    flat = np.arange(n * n_eps)
    for s in range(0, flat.size, batch):
        f = flat[s : s + batch]
        yield f // n_eps, f % n_eps


def latent_attack(
    model: nn.Module,
    variant: str,
    z: torch.Tensor,
    y: torch.Tensor,
    eps_grid,
    *,
    steps: int,
    step_ratio: float,
    resolution: int,
    batch: int = 256,
    loss: str = "cross_entropy",
) -> xr.Dataset:
    """Fig. 9: untargeted latent PGD on ``model`` at every eps of the grid (``loss``: the
    attack's objective, see :func:`latent_pgd`); the true label of each attacked latent
    is recomputed."""
    eps_grid = np.asarray(eps_grid, dtype=np.float64)
    n, ne = z.shape[0], eps_grid.size
    dev = next(model.parameters()).device
    z_adv = np.zeros((n, ne, z.shape[1]), np.float32)
    pred = np.zeros((n, ne), np.int8)
    for i, e in bar(_eps_batches(n, ne, batch), math.ceil(n * ne / batch), "latent PGD"):
        it = torch.as_tensor(i)
        za = latent_pgd(
            model,
            variant,
            z[it],
            y[it],
            torch.as_tensor(eps_grid[e], dtype=z.dtype),
            steps=steps,
            step_ratio=step_ratio,
            resolution=resolution,
            loss=loss,
        )
        with torch.no_grad():
            pred[i, e] = model(sq.decode(variant, za.to(dev), resolution)).argmax(1).cpu().numpy()
        z_adv[i, e] = za.numpy()
    true = true_labels(variant, torch.as_tensor(z_adv.reshape(n * ne, -1))).reshape(n, ne)
    with torch.no_grad():
        clean = predict_proba(model, sq.decode(variant, z, resolution))
    dz = np.linalg.norm(z_adv - z.numpy()[:, None], axis=2)
    return xr.Dataset(
        {
            "label": var(y.numpy().astype(np.int8), ("sample",), "true label of the clean sample"),
            "clean_proba": var(clean, ("sample",), "model P(self-intersecting) on the clean image"),
            "pred_adv": var(pred, ("sample", "eps"), "model prediction after the latent attack"),
            "label_adv": var(
                true.astype(np.int8), ("sample", "eps"), "true label recomputed after the attack"
            ),
            "latent_adv": var(z_adv, ("sample", "eps", "latent_dim"), "attacked latent code"),
            "latent_norm": var(
                dz.astype(np.float32), ("sample", "eps"), "L2 norm of the latent perturbation"
            ),
        },
        coords={"eps": eps_grid},
        attrs={
            "store_kind": "latent",
            "variant": variant,
            "steps": steps,
            "step_ratio": step_ratio,
            "loss": loss,
        },
    )


def latent_curves(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Fig. 9 per eps: accuracy against the recomputed label, the fraction of unchanged
    true labels, and the rate of adversarial errors (correct on the clean image, wrong
    after the attack against the recomputed label)."""
    y = ds["label"].values[:, None]
    pred, lab = ds["pred_adv"].values, ds["label_adv"].values
    clean_ok = clean_correct(ds)[:, None]
    return {
        "accuracy": (pred == lab).mean(0),
        "unchanged": (lab == y).mean(0),
        "adversarial_error": (clean_ok & (pred != lab)).mean(0),
        "error_same_label": (clean_ok & (pred != lab) & (lab == y)).mean(0),
    }


def boundary_distance(
    navigator: nn.Module,
    variant: str,
    z: torch.Tensor,
    y: torch.Tensor,
    eps_grid,
    *,
    steps: int,
    step_ratio: float,
    resolution: int,
    batch: int = 256,
) -> xr.Dataset:
    """Sec. 3: upper bound on the latent L2 distance to the true decision boundary,
    the smallest eps of the grid at which the navigator-steered attack towards the
    other label flips the true label (inf when none does)."""
    eps_grid = np.sort(np.asarray(eps_grid, dtype=np.float64))
    n = z.shape[0]
    flipped = np.zeros((n, eps_grid.size), dtype=bool)
    attacked = np.zeros((n, eps_grid.size), dtype=bool)
    active = np.ones(n, dtype=bool)
    other = 1 - y
    for e, eps in enumerate(bar(eps_grid, eps_grid.size, "distance (eps grid)")):
        idx = np.nonzero(active)[0]
        for s in range(0, idx.size, batch):
            b = torch.as_tensor(idx[s : s + batch])
            za = latent_pgd(
                navigator,
                variant,
                z[b],
                other[b],
                torch.full((b.numel(),), eps, dtype=z.dtype),
                steps=steps,
                step_ratio=step_ratio,
                resolution=resolution,
                towards=True,
            )
            flipped[b.numpy(), e] = true_labels(variant, za) != y[b].numpy()
        attacked[idx, e] = True
        active &= ~flipped[:, e]
    first = np.where(flipped.any(1), eps_grid[flipped.argmax(1)], np.inf)
    return xr.Dataset(
        {
            "label": var(y.numpy().astype(np.int8), ("sample",), "true label of the clean sample"),
            "flipped": var(
                flipped,
                ("sample", "eps"),
                "the navigator-steered latent attack flipped the true label",
            ),
            "attacked": var(
                attacked,
                ("sample", "eps"),
                "attacked at this eps (not yet flipped at a smaller one)",
            ),
            "distance": var(
                first,
                ("sample",),
                "smallest eps of the grid that flips the true label "
                "(upper bound on the latent L2 distance to the true boundary; inf: none)",
                units="latent L2",
            ),
        },
        coords={"eps": eps_grid},
        attrs={
            "store_kind": "distance",
            "variant": variant,
            "steps": steps,
            "step_ratio": step_ratio,
        },
    )


def distance_sample(
    pred: np.ndarray,
    label: np.ndarray,
    n_attack: int,
    n_misclassified: int | None,
    n_correct: int | None,
    seed: int,
) -> np.ndarray:
    """Test-set indices whose distance is measured, ascending: the first ``n_attack``
    (the attacked curves), the misclassified ones (``pred != label``: every one, or drawn
    at random until the store holds ``n_misclassified``) and correctly classified ones
    drawn at random until it holds ``n_correct`` (default: as many as misclassified
    ones); the attacked curves count towards both. Where the test set has fewer correct
    curves than that, every one is taken (the stores record the group sizes)."""
    pred, label = np.asarray(pred), np.asarray(label)
    rng = np.random.default_rng(seed)
    attacked = np.arange(min(n_attack, label.size))
    wrong = np.setdiff1d(np.flatnonzero(pred != label), attacked)
    if n_misclassified is not None:
        room = max(0, n_misclassified - int((pred[attacked] != label[attacked]).sum()))
        if wrong.size > room:
            wrong = rng.choice(wrong, room, replace=False)
    chosen = np.union1d(attacked, wrong)
    n_wrong = int((pred[chosen] != label[chosen]).sum())
    want = n_wrong if n_correct is None else max(n_correct, n_wrong)
    have = int((pred[chosen] == label[chosen]).sum())
    pool = np.setdiff1d(np.flatnonzero(pred == label), chosen)
    extra = min(max(0, want - have), pool.size)
    return np.union1d(chosen, rng.choice(pool, extra, replace=False))


def distance_store(
    model: nn.Module,
    navigator: nn.Module,
    variant: str,
    data: xr.Dataset,
    eps_grid,
    *,
    n_attack: int,
    n_misclassified: int | None,
    n_correct: int | None,
    sample_seed: int,
    steps: int,
    step_ratio: float,
    batch: int = 256,
) -> xr.Dataset:
    """:func:`boundary_distance` on the curves of :func:`distance_sample` (chosen from the
    predictions of ``model``, the sigma-0 model under test, on the whole test set),
    steered by ``navigator``; with each curve's test index (``sample``), whether it is
    one of the attacked ones, and both models' clean predictions."""
    res = int(data.attrs["resolution"])
    dev = next(model.parameters()).device
    x_all = torch.as_tensor(data["image"].values)
    pred = (predict_proba(model, x_all.to(dev)) > 0.5).astype(np.int8)
    label = data["label"].values.astype(np.int8)
    idx = distance_sample(pred, label, n_attack, n_misclassified, n_correct, sample_seed)
    sub = data.isel(sample=idx)
    z = torch.as_tensor(sub["latent"].values)
    y = torch.as_tensor(sub["label"].values).long()
    steer = (predict_proba(navigator, x_all[idx].to(dev)) > 0.5).astype(np.int8)
    ds = boundary_distance(
        navigator, variant, z, y, eps_grid, steps=steps, step_ratio=step_ratio,
        resolution=res, batch=batch,
    )  # fmt: skip
    return ds.assign(
        in_attack_set=var(idx < n_attack, ("sample",), "one of the attacked test curves"),
        model_pred=var(pred[idx], ("sample",), "clean prediction of the sigma-0 model under test"),
        steer_pred=var(steer, ("sample",), "clean prediction of the steering model"),
    ).assign_coords(sample=sub["sample"].values)


# ----------------------------------------------------------------------------- pixel attacks


def noise_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps_grid,
    draws: int,
    seed: int,
    batch: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-noise attack: ``draws`` random directions of norm eps per sample and eps.
    Returns (correct fraction over draws, fooled by at least one draw), (sample, eps)."""
    eps_grid = np.asarray(eps_grid, dtype=np.float64)
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    n = x.shape[0]
    acc = np.zeros((n, eps_grid.size))
    fooled = np.zeros((n, eps_grid.size), dtype=bool)
    with torch.no_grad():
        for e, eps in enumerate(eps_grid):
            for _ in range(draws):
                u = torch.randn(x.shape, generator=gen)
                u = u * (eps / u.flatten(1).norm(dim=1).clamp_min(1e-12)).reshape(-1, 1, 1, 1)
                pred = batched(model, x + u, batch, lambda out: out.argmax(1).cpu(), dev)
                ok = (pred == y).numpy()
                acc[:, e] += ok / draws
                fooled[:, e] |= ~ok
    return acc, fooled


def pixel_attack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps_grid,
    *,
    steps: int,
    step_ratio: float,
    focus_eps: float,
    noise_draws: int,
    seed: int,
    batch: int = 500,
    loss: str = "cross_entropy",
) -> xr.Dataset:
    """Fig. 10: L2 PGD (greedy, unclipped; ``loss``: its objective, the cross-entropy of
    Madry et al.'s PGD or the margin) and the Gaussian-noise attack at every eps; the
    PGD images at ``focus_eps`` are kept for galleries and the decomposition."""
    eps_grid = np.asarray(eps_grid, dtype=np.float64)
    if not np.isclose(eps_grid, focus_eps).any():
        raise ValueError(
            f"focus_eps {focus_eps} must be one of the pixel eps grid {eps_grid.tolist()}"
        )
    fe = int(np.argmin(np.abs(eps_grid - focus_eps)))
    n, ne = x.shape[0], eps_grid.size
    dev = next(model.parameters()).device
    success = np.zeros((n, ne), dtype=bool)
    norms = np.zeros((n, ne), np.float32)
    x_focus = x.clone().numpy()
    for i, e in bar(_eps_batches(n, ne, batch), math.ceil(n * ne / batch), "pixel PGD"):
        eps = torch.as_tensor(eps_grid[e], dtype=x.dtype)
        res = pgd(
            model,
            x[i].to(dev),
            y[i].to(dev),
            norm="l2",
            eps=eps.to(dev),
            step_size=(eps / step_ratio).to(dev),
            steps=steps,
            early_stop=True,
            box=(-BIG, BIG),
            loss=loss,
        )
        success[i, e] = res.success.cpu().numpy()
        norms[i, e] = res.norm.cpu().numpy()
        sel = e == fe
        if sel.any():
            x_focus[i[sel]] = res.x_adv[torch.as_tensor(sel).to(dev)].cpu().numpy()
    noise_acc, noise_fooled = noise_attack(model, x, y, eps_grid, noise_draws, seed)
    clean = predict_proba(model, x)
    return xr.Dataset(
        {
            "label": var(y.numpy().astype(np.int8), ("sample",), "true label"),
            "clean_proba": var(clean, ("sample",), "model P(self-intersecting) on the clean image"),
            "pgd_success": var(
                success, ("sample", "eps"), "L2 PGD found a misclassified image within eps"
            ),
            "pgd_norm": var(norms, ("sample", "eps"), "L2 norm of the PGD perturbation"),
            "noise_accuracy": var(
                noise_acc.astype(np.float32),
                ("sample", "eps"),
                "fraction of Gaussian-noise draws of norm eps classified correctly",
            ),
            "noise_fooled": var(
                noise_fooled,
                ("sample", "eps"),
                "at least one noise draw of norm eps fools the model",
            ),
            "x_adv_focus": var(
                x_focus.astype(np.float32),
                ("sample", "channel", "row", "col"),
                "PGD image at the focus eps (the clean image where PGD did not run)",
            ),
        },
        coords={"eps": eps_grid},
        attrs={
            "store_kind": "pixel",
            "focus_eps": float(eps_grid[fe]),
            "noise_draws": int(noise_draws),
            "steps": steps,
            "step_ratio": step_ratio,
            "loss": loss,
        },
    )


def pixel_curves(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Fig. 10 per eps: accuracy under PGD and under Gaussian noise of equal norm."""
    return {
        "pgd_accuracy": 1.0 - ds["pgd_success"].values.mean(0),
        "noise_accuracy": ds["noise_accuracy"].values.mean(0),
        "noise_any_accuracy": 1.0 - ds["noise_fooled"].values.mean(0),
    }


# ----------------------------------------------------------------------------- decomposition


def tangent_basis(
    variant: str, z: torch.Tensor, resolution: int, rtol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal basis (n^2, r) of the image manifold's tangent space at decode(z),
    truncated at singular values > rtol * max (float64), and all singular values.

    The decoder Jacobian factors as ``J = J_render (n^2 x 2P) @ J_points (2P x d)``;
    with ``J_render = Q R`` (thin QR) the SVD of ``J`` is ``(Q U') S V'^T`` where
    ``U' S V'^T`` is the SVD of the small ``R @ J_points`` (exact, and far cheaper than
    an SVD of the n^2 x d Jacobian when d is large, e.g. SineNet's 1200)."""
    z64 = z.detach().to(torch.float64)
    pts = sq.curve_points(variant, z64[None])[0]

    def points(c: torch.Tensor) -> torch.Tensor:
        return sq.curve_points(variant, c[None])[0].reshape(-1)

    def image(p: torch.Tensor) -> torch.Tensor:
        return sq.render(p.reshape(1, -1, 2), resolution).reshape(-1)

    j_pts = jacfwd(points)(z64)  # (2P, d)
    j_img = jacfwd(image)(pts.reshape(-1))  # (n^2, 2P)
    q, r = torch.linalg.qr(j_img)
    u, s, _ = torch.linalg.svd(r @ j_pts, full_matrices=False)
    k = int((s > rtol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    basis = q @ u[:, :k]
    check_orthonormal(basis, f"{variant} tangent basis", rows=False)
    return basis, s


def decompose(
    models: dict[str, nn.Module],
    variant: str,
    z: torch.Tensor,
    x: torch.Tensor,
    deltas: dict[str, torch.Tensor],
    *,
    resolution: int,
    rtol: float,
    seed: int,
    labels: torch.Tensor | None = None,
) -> xr.Dataset:
    """Fig. 11: split each attack vector into its component in the tangent space of the
    image manifold at the clean image and the rest; the model's prediction on x + on and
    x + off (``models[name]`` is the model that attack ``name`` was made against); the
    share of a random subspace of equal rank as the control."""
    n, feat = x.shape[0], x[0].numel()
    names = list(deltas)
    gen = torch.Generator().manual_seed(seed)
    on_share = np.full((n, len(names)), np.nan)
    rand_share = np.full((n, len(names)), np.nan)
    on_img = np.zeros((n, len(names), *x.shape[1:]), np.float32)
    ranks = np.zeros(n, np.int32)
    for i in bar(range(n), n, "tangent bases"):
        basis, _ = tangent_basis(variant, z[i], resolution, rtol)
        ranks[i] = basis.shape[1]
        q, _ = torch.linalg.qr(
            torch.randn(feat, max(1, ranks[i]), generator=gen, dtype=torch.float64)
        )
        q = q[:, : ranks[i]]
        for j, name in enumerate(names):
            d = deltas[name][i].reshape(-1).to(torch.float64)
            dn2 = float(d @ d)
            on = basis @ (basis.T @ d)
            on_img[i, j] = on.reshape(x.shape[1:]).float().numpy()
            if dn2 > 0:
                on_share[i, j] = float(on @ on) / dn2
                rand_share[i, j] = float((q.T @ d).pow(2).sum()) / dn2
    on_t = torch.as_tensor(on_img)
    pred_on = np.zeros((n, len(names)), np.int8)
    pred_off = np.zeros((n, len(names)), np.int8)
    pred_full = np.zeros((n, len(names)), np.int8)
    pred_clean = np.zeros((n, len(names)), np.int8)
    with torch.no_grad():
        for j, name in enumerate(names):
            model = models[name]
            dev = next(model.parameters()).device
            d = deltas[name].float()
            pred_clean[:, j] = model(x.to(dev)).argmax(1).cpu().numpy()
            pred_full[:, j] = model((x + d).to(dev)).argmax(1).cpu().numpy()
            pred_on[:, j] = model((x + on_t[:, j]).to(dev)).argmax(1).cpu().numpy()
            pred_off[:, j] = model((x + d - on_t[:, j]).to(dev)).argmax(1).cpu().numpy()
    deltas_np = np.stack([deltas[k].float().numpy() for k in names], axis=1)
    dims = ("sample", "attack")
    return xr.Dataset(
        {
            "label": var(
                (np.full(n, -1) if labels is None else labels.numpy()).astype(np.int8),
                ("sample",),
                "true label of the clean sample (-1: not given)",
            ),
            "tangent_rank": var(
                ranks, ("sample",), f"tangent-space rank (singular values > {rtol} x max)"
            ),
            "on_share": var(on_share, dims, "|on-manifold component|^2 / |attack vector|^2"),
            "random_share": var(
                rand_share, dims, "share of the attack vector in a random subspace of equal rank"
            ),
            "delta": var(
                deltas_np, (*dims, "channel", "row", "col"), "attack vector in pixel space"
            ),
            "delta_on": var(on_img, (*dims, "channel", "row", "col"), "on-manifold component"),
            "pred_clean": var(pred_clean, dims, "the attacked model's prediction on x"),
            "pred_full": var(pred_full, dims, "model prediction on x + delta"),
            "pred_on": var(pred_on, dims, "model prediction on x + on-manifold component"),
            "pred_off": var(pred_off, dims, "model prediction on x + off-manifold component"),
        },
        coords={"attack": names},
        attrs={
            "store_kind": "decomposition",
            "variant": variant,
            "rtol": float(rtol),
            "n_features": int(feat),
        },
    )


# ----------------------------------------------------------------------------- summaries


def cdf(values, grid) -> np.ndarray:
    """Fraction of finite-or-inf ``values`` <= each grid value (inf never counts)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.full(len(grid), np.nan)
    return np.array([(v <= g).mean() for g in grid])


def _seed_stat(values) -> dict:
    from pipeline_lib.stats import seed_stat

    return seed_stat([float(v) for v in values])


def clean_correct(ds: xr.Dataset) -> np.ndarray:
    """Per sample: the attacked model classified the clean image correctly."""
    return (ds["clean_proba"].values > 0.5).astype(int) == ds["label"].values


def focus_index(pixel_store: xr.Dataset) -> int:
    """Index of a pixel store's focus eps on its eps grid."""
    eps = pixel_store["eps"].values
    return int(np.argmin(np.abs(eps - float(pixel_store.attrs["focus_eps"]))))


def loss_ablation_metrics(
    variant: str,
    latent: dict[str, list[xr.Dataset]],
    pixel: dict[str, dict[float, list[xr.Dataset]]],
) -> dict:
    """Numbers of the attack-objective ablation, keyed
    ``squiggles/<variant>-loss_<loss>/<name>``: ``latent_accuracy_min`` (the latent
    attack's most effective eps) and ``pixel_accuracy_at_focus_sigma<g>`` (pixel PGD at
    the focus eps), each ``{mean, std, n_seeds, per_seed}`` over seeds; ``latent_accuracy``
    and ``pixel_accuracy_sigma<g>`` (per eps, seed means) and ``eps`` lists."""
    m: dict = {}
    for loss, stores in latent.items():
        pre = f"squiggles/{variant}-loss_{loss}"
        curves = [latent_curves(d)["accuracy"] for d in stores]
        m[f"{pre}/latent_accuracy_min"] = _seed_stat([c.min() for c in curves])
        m[f"{pre}/latent_accuracy"] = np.mean(curves, axis=0).tolist()
        m[f"{pre}/latent_eps"] = [float(e) for e in stores[0]["eps"].values]
    for loss, by_sigma in pixel.items():
        pre = f"squiggles/{variant}-loss_{loss}"
        for g, stores in by_sigma.items():
            curves = [pixel_curves(d)["pgd_accuracy"] for d in stores]
            eps = stores[0]["eps"].values
            k = focus_index(stores[0])
            m[f"{pre}/pixel_accuracy_at_focus_sigma{g:g}"] = _seed_stat([c[k] for c in curves])
            m[f"{pre}/pixel_accuracy_sigma{g:g}"] = np.mean(curves, axis=0).tolist()
        m[f"{pre}/pixel_eps"] = [float(e) for e in eps]
    return m


def high_frequency_share(delta) -> np.ndarray:
    """Per image (``delta``: (N, ..., n, n)): the share of the perturbation's power
    (|FFT|^2, the mean removed) at spatial frequencies above half the Nyquist frequency
    along either axis, ``max(|f_row|, |f_col|) > 1/4`` cycles per pixel: 3/4 for white
    noise, near 1 for a checkerboard (Fig. 25), near 0 for a smooth perturbation. NaN
    for an all-zero perturbation."""
    d = np.asarray(delta, dtype=np.float64)
    d = d.reshape(d.shape[0], *d.shape[-2:])
    d = d - d.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(d)) ** 2
    fr, fc = np.fft.fftfreq(d.shape[1]), np.fft.fftfreq(d.shape[2])
    high = np.maximum(np.abs(fr)[:, None], np.abs(fc)[None, :]) > 0.25
    total = power.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, power[:, high].sum(1) / total, np.nan)


def attack_vectors(px: xr.Dataset, images) -> tuple[np.ndarray, np.ndarray]:
    """The pixel PGD errors of a pixel store at its focus eps (clean correct, fooled):
    their rows and attack vectors ``x_adv - x`` (``images``: the clean images of the
    store's curves, in its order)."""
    sel = clean_correct(px) & px["pgd_success"].values[:, focus_index(px)]
    x = np.asarray(images, dtype=np.float32)
    if x.shape != px["x_adv_focus"].shape:
        raise ValueError(
            f"clean images {x.shape} do not match the pixel store's {px['x_adv_focus'].shape}"
        )
    return np.flatnonzero(sel), px["x_adv_focus"].values[sel] - x[sel]


def best_latent_eps(latent: xr.Dataset) -> int:
    """Index of the latent attack's most successful eps (lowest accuracy against the
    recomputed label; the first of ties): where Fig. 7 and 8 take its errors."""
    return int(np.argmin(latent_curves(latent)["accuracy"]))


def group_stores(stores: list[xr.Dataset], kind: str, attr: str | None = None, keys=()):
    """The stores of one ``store_kind``, ordered by seed: a list, or with ``attr`` a dict
    ``{key: list}`` over ``keys`` (path forms such as "0.08", matched to ``attr:g``)."""

    def of(sel):
        return sorted(
            (s for s in stores if s.attrs["store_kind"] == kind and sel(s)),
            key=lambda s: s.attrs["seed"],
        )

    if attr is None:
        return of(lambda s: True)
    return {k: of(lambda s, k=k: f"{float(s.attrs[attr]):g}" == k) for k in keys}


def trainings_by_model(trainings: list[xr.Dataset]) -> dict[tuple[str, float], list]:
    """Training stores grouped by (variant, sigma), in the order given (seeds)."""
    groups: dict[tuple[str, float], list] = {}
    for t in trainings:
        groups.setdefault((t.attrs["variant"], float(t.attrs["sigma"])), []).append(t)
    return groups


def distance_groups(
    dist: xr.Dataset,
    latent: xr.Dataset | None,
    pixels: dict[str, xr.Dataset],
    latent_eps: float | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The Fig. 8 groups of a distance store: name -> (its rows in the store, the clean
    prediction of the model under test on them). ``all``: the attacked curves;
    ``misclassified`` / ``correct``: every measured curve the sigma-0 model gets wrong /
    right; the adversarial errors of each attack on the attacked curves (clean correct,
    wrong after it: the latent attack at ``latent_eps`` (default: its most successful eps)
    against the recomputed label, each pixel PGD at its focus eps, whose sigma's model is
    the one under test)."""
    ok = dist["model_pred"].values == dist["label"].values
    pred = dist["model_pred"].values
    rows = np.flatnonzero(dist["in_attack_set"].values)
    out = {
        "all": (rows, pred[rows]),
        "misclassified": (np.flatnonzero(~ok), pred[~ok]),
        "correct": (np.flatnonzero(ok), pred[ok]),
    }
    for ref in filter(lambda r: r is not None, (latent, *pixels.values())):
        if ref.sizes["sample"] != rows.size:
            raise ValueError(
                f"distance store has {rows.size} attacked curves, the {ref.attrs['store_kind']} "
                f"store {ref.sizes['sample']}: stores of different runs"
            )
    if latent is not None:
        e = (
            best_latent_eps(latent)
            if latent_eps is None
            else int(np.argmin(np.abs(latent["eps"].values - latent_eps)))
        )
        wrong = latent["pred_adv"].values[:, e] != latent["label_adv"].values[:, e]
        sel = clean_correct(latent) & wrong
        out["adversarial_latent"] = (rows[sel], pred[rows[sel]])
    for g, px in pixels.items():
        sel = clean_correct(px) & px["pgd_success"].values[:, focus_index(px)]
        own = (px["clean_proba"].values > 0.5).astype(np.int8)
        out[f"adversarial_pixel_sigma{g}"] = (rows[sel], own[sel])
    return out


def error_groups(
    dist: xr.Dataset,
    latent: xr.Dataset | None,
    pixels: dict[str, xr.Dataset],
    latent_eps: float | None = None,
) -> dict[str, np.ndarray]:
    """Distances (Fig. 8) of each group of :func:`distance_groups`."""
    d = dist["distance"].values
    return {k: d[r] for k, (r, _) in distance_groups(dist, latent, pixels, latent_eps).items()}


def steer_agreement(
    dist: xr.Dataset, latent: xr.Dataset | None, pixels: dict[str, xr.Dataset]
) -> dict[str, np.ndarray]:
    """Per group: whether the steering model's clean prediction equals the model under
    test's (0/1 per curve)."""
    steer = dist["steer_pred"].values
    return {
        k: (steer[r] == pred).astype(np.float64)
        for k, (r, pred) in distance_groups(dist, latent, pixels).items()
    }


def within_shares(distances: np.ndarray, grid) -> dict:
    """Share of curves within each radius of the grid, with Wilson 95% intervals."""
    from pipeline_lib.stats import binomial_ci

    d = np.asarray(distances, dtype=np.float64)
    k = [int((d <= g).sum()) for g in grid]
    return {
        "share": [x / d.size if d.size else None for x in k],
        "ci": [binomial_ci(x, d.size) for x in k],
        "n": int(d.size),
    }


def group_tests(groups: dict[str, np.ndarray], lowest: float) -> dict:
    """Each adversarial group and the misclassified one against the correct curves, and
    each adversarial group against the misclassified ones: two-sided Mann-Whitney on the
    distances (inf = never flipped, ranked last) and Fisher's exact test on the share
    within the smallest radius; p-values (None where a group is empty)."""
    from scipy import stats

    pairs = [("misclassified", "correct")]
    for name in groups:
        if name.startswith("adversarial"):
            pairs += [(name, "correct"), (name, "misclassified")]
    out = {}
    for a, b in pairs:
        x, y = np.asarray(groups[a], float), np.asarray(groups[b], float)
        if x.size == 0 or y.size == 0:
            out[f"{a}_vs_{b}"] = {"mannwhitney_p": None, "fisher_p": None, "n": [x.size, y.size]}
            continue
        big = np.nanmax(np.where(np.isfinite(np.r_[x, y]), np.r_[x, y], 0)) + 1.0
        mw = stats.mannwhitneyu(np.where(np.isfinite(x), x, big), np.where(np.isfinite(y), y, big))
        kx, ky = int((x <= lowest).sum()), int((y <= lowest).sum())
        fe = stats.fisher_exact([[kx, x.size - kx], [ky, y.size - ky]])
        out[f"{a}_vs_{b}"] = {
            "mannwhitney_p": float(mw.pvalue),
            "fisher_p": float(fe.pvalue),
            "n": [int(x.size), int(y.size)],
        }
    return out


def distance_metrics(
    key: str,
    by_steer: dict[str, list[xr.Dataset]],
    latent: list[xr.Dataset],
    pixel: dict[str, list[xr.Dataset]],
) -> dict:
    """Fig. 8 numbers, pooled over seeds. For the main steering model (the first) under
    ``<key>/distance_<group>_...``: ``n``, ``median`` (null when more than half never
    flip), ``below_min_eps`` and ``share_within`` (per radius, Wilson intervals), and
    ``<key>/distance_tests`` (:func:`group_tests`); for every steering model under
    ``<key>/steer_sigma<s>/``: the same n / median / below_min_eps and
    ``agreement_<group>`` (share of curves where the steering model's clean prediction
    equals the model under test's; Wilson interval)."""
    from pipeline_lib.stats import binomial_ci

    m: dict = {}
    for j, (steer, dists) in enumerate(by_steer.items()):
        grid = np.sort(dists[0]["eps"].values)
        lowest = float(grid[0])
        groups: dict[str, list] = {}
        agree: dict[str, list] = {}
        for i, dist in enumerate(dists):
            pix = {g: runs[i] for g, runs in pixel.items()}
            for name, d in error_groups(dist, latent[i], pix).items():
                groups.setdefault(name, []).append(d)
            for name, a in steer_agreement(dist, latent[i], pix).items():
                agree.setdefault(name, []).append(a)
        pooled = {k: np.concatenate(v) for k, v in groups.items()}
        prefixes = [f"{key}/steer_sigma{steer}"] + ([key] if j == 0 else [])
        for name, d in pooled.items():
            med = float(np.median(d)) if d.size else float("nan")
            vals = {
                "n": int(d.size),
                "below_min_eps": float((d <= lowest).mean()) if d.size else None,
                # null when empty or when more than half never flip within the largest eps
                "median": med if np.isfinite(med) else None,
            }
            for pre in prefixes:
                for k, v in vals.items():
                    m[f"{pre}/distance_{name}_{k}"] = v
            a = np.concatenate(agree[name])
            k = int(a.sum())
            m[f"{key}/steer_sigma{steer}/agreement_{name}"] = {
                "rate": k / a.size if a.size else None,
                "ci": binomial_ci(k, a.size),
                "n": int(a.size),
            }
        if j == 0:
            m[f"{key}/distance_eps"] = grid.tolist()
            m[f"{key}/distance_steering"] = list(by_steer)
            for name, d in pooled.items():
                m[f"{key}/distance_{name}_share_within"] = within_shares(d, grid)
            m[f"{key}/distance_tests"] = group_tests(pooled, lowest)
    return m


def squiggle_metrics(
    datas: list[xr.Dataset],
    trainings: list[xr.Dataset],
    analysis: dict[str, dict],
) -> dict:
    """Headline numbers keyed ``squiggles/<variant>[-sigma<s>]/<metric>`` (README).

    ``analysis[variant]`` has ``latent``, ``decomposition`` (lists over seeds, same seed
    order), ``pixel`` ({sigma string: list over seeds}) and ``distance`` ({steering sigma
    string: list over seeds}, the main steering model first)."""
    m: dict = {}
    images = {
        ds.attrs["variant"]: ds["image"]
        for ds in datas
        if ds.attrs["split"] == "test" and ds.attrs["variant"] in analysis
    }
    for ds in datas:
        v, split = ds.attrs["variant"], ds.attrs["split"]
        lab = ds["label"].values
        m[f"squiggles/{v}/{split}_self_intersecting_fraction"] = float(lab.mean())
        m[f"squiggles/{v}/{split}_n"] = int(lab.size)
    groups: dict[tuple[str, float], list[xr.Dataset]] = {}
    for t in trainings:
        groups.setdefault((t.attrs["variant"], float(t.attrs["sigma"])), []).append(t)
    for (v, s), runs in sorted(groups.items()):
        key = f"squiggles/{v}-sigma{s:g}"
        for tv in runs[0]["test_variant"].values:
            tag = "test" if tv == v else f"cross_{tv}"
            for metric in ("accuracy", "roc_auc"):
                m[f"{key}/{tag}_{metric}"] = _seed_stat(
                    [r[metric].sel(test_variant=tv).item() for r in runs]
                )
    for v, a in analysis.items():
        key = f"squiggles/{v}"
        lat = a["latent"]
        curves = [latent_curves(s) for s in lat]
        eps = lat[0]["eps"].values
        mean_acc = np.mean([c["accuracy"] for c in curves], axis=0)
        best = int(np.argmin(mean_acc))
        m[f"{key}/latent_eps"] = eps.tolist()
        for name in ("accuracy", "unchanged", "adversarial_error"):
            m[f"{key}/latent_{name}_per_eps"] = np.mean([c[name] for c in curves], axis=0).tolist()
        m[f"{key}/latent_best_eps"] = float(eps[best])
        m[f"{key}/latent_min_accuracy"] = _seed_stat([c["accuracy"][best] for c in curves])
        m[f"{key}/latent_unchanged_at_best"] = _seed_stat([c["unchanged"][best] for c in curves])
        m[f"{key}/latent_accuracy_monotone"] = bool(np.all(np.diff(mean_acc) <= 0))
        m[f"{key}/clean_accuracy_attacked"] = _seed_stat([clean_correct(s).mean() for s in lat])
        sig = sorted(a["pixel"], key=float)
        focus = {}
        for g in sig:
            runs = a["pixel"][g]
            pc = [pixel_curves(r) for r in runs]
            fe = focus_index(runs[0])
            focus[g] = [c["pgd_accuracy"][fe] for c in pc]
            k = f"{key}-sigma{g}"
            m[f"{k}/pixel_eps"] = runs[0]["eps"].values.tolist()
            m[f"{k}/focus_eps"] = float(runs[0].attrs["focus_eps"])
            m[f"{k}/pixel_clean_accuracy"] = _seed_stat([clean_correct(r).mean() for r in runs])
            m[f"{k}/pixel_pgd_accuracy_at_focus"] = _seed_stat(focus[g])
            m[f"{k}/pixel_noise_accuracy_at_focus"] = _seed_stat(
                [c["noise_accuracy"][fe] for c in pc]
            )
            for name in ("pgd_accuracy", "noise_accuracy"):
                m[f"{k}/pixel_{name}_per_eps"] = np.mean([c[name] for c in pc], axis=0).tolist()
            if v in images:
                hf = np.concatenate(
                    [high_frequency_share(attack_vectors(r, images[v][: r.sizes["sample"]])[1])
                     for r in runs]
                )  # fmt: skip
                m[f"{k}/attack_high_frequency_share_median"] = (
                    float(np.nanmedian(hf)) if np.isfinite(hf).any() else None
                )
                m[f"{k}/attack_high_frequency_share_n"] = int(np.isfinite(hf).sum())
        if len(sig) > 1:
            lo, hi = np.array(focus[sig[0]]), np.array(focus[sig[-1]])
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(lo < 1, (hi - lo) / (1 - lo), np.nan)
            m[f"{key}/noise_training_explained_fraction"] = _seed_stat(frac)
        m.update(distance_metrics(key, a["distance"], lat, {g: a["pixel"][g] for g in sig}))
        decs = a["decomposition"]
        for att in decs[0]["attack"].values:
            on = [float(np.nanmedian(d["on_share"].sel(attack=att))) for d in decs]
            rnd = [float(np.nanmedian(d["random_share"].sel(attack=att))) for d in decs]
            m[f"{key}/{att}_on_manifold_share_median"] = _seed_stat(on)
            m[f"{key}/{att}_random_subspace_share_median"] = _seed_stat(rnd)
            fooled = [
                (
                    (d["pred_clean"].sel(attack=att) == d["label"])
                    & (d["pred_full"].sel(attack=att) != d["label"])
                ).values
                for d in decs
            ]
            for part in ("on", "off"):
                rates = []
                for d, f in zip(decs, fooled, strict=True):
                    wrong = (d[f"pred_{part}"].sel(attack=att) != d["label"]).values
                    rates.append(wrong[f].mean() if f.any() else np.nan)
                m[f"{key}/{att}_{part}_component_fools"] = _seed_stat(rates)
        m[f"{key}/tangent_rank_median"] = float(
            np.median(np.concatenate([d["tangent_rank"].values for d in decs]))
        )
    return m
