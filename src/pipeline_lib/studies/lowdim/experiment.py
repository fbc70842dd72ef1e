"""The DMM low-dimensional experiment (Sec. 6, App. C): a 2-layer ReLU network
with a fixed random output layer, trained with SGD; the decision boundary is
recorded at chosen epochs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from pipeline_lib import checkpoints
from pipeline_lib.progress import bar
from pipeline_lib.resume import Resume
from pipeline_lib.training import TrainingState, check_finite, run_epoch


class TwoLayerNet(nn.Module):
    """``logit(x) = u . relu(W x + b)`` with ``u`` fixed (a buffer, never trained).

    The hidden layer keeps PyTorch's default initialisation (App. C). ``u`` is drawn
    uniformly from {-1, +1} (``sign``) or from U[-1, 1] (``uniform``).
    """

    def __init__(self, in_dim: int, hidden: int, output_weights: str = "sign", seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.hidden = nn.Linear(in_dim, hidden)
        bound = 1.0 / np.sqrt(in_dim)  # PyTorch's default Linear init, drawn from our generator
        with torch.no_grad():
            self.hidden.weight.uniform_(-bound, bound, generator=gen)
            self.hidden.bias.uniform_(-bound, bound, generator=gen)
        if output_weights == "sign":
            u = torch.randint(0, 2, (hidden,), generator=gen).float() * 2 - 1
        elif output_weights == "uniform":
            u = torch.rand(hidden, generator=gen) * 2 - 1
        else:
            raise ValueError(f"output_weights must be 'sign' or 'uniform', got {output_weights!r}")
        self.register_buffer("out_weight", u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x)) @ self.out_weight


def random_labels(n: int, seed: int) -> np.ndarray:
    """The control's labels: i.i.d. fair coin flips, independent of position."""
    return np.random.default_rng(seed + 7919).integers(0, 2, size=n).astype(np.int8)


def random_cluster_labels(cluster_id: np.ndarray, centre_labels: np.ndarray, seed: int):
    """The label-coherent control: each cluster gets one random class, every point of a
    cluster its cluster's class. The classes are a seeded random permutation of the
    clusters' true (chessboard) labels, so both classes keep half the clusters (balanced
    coin flips; independent flips could give every cluster one class). A permutation
    that gives back the true labels or their complement (the same boundary) is drawn
    again, so the control never equals clean training (unless no other arrangement
    exists, e.g. two clusters)."""
    centre_labels = np.asarray(centre_labels)
    rng = np.random.default_rng(seed + 15485863)
    same = (centre_labels, 1 - centre_labels)
    perm = rng.permutation(centre_labels)
    n_other = len(np.unique(centre_labels)) == 2 and len(centre_labels) > 2
    while n_other and any(np.array_equal(perm, t) for t in same):
        perm = rng.permutation(centre_labels)
    return perm[np.asarray(cluster_id)].astype(np.int8)


#: the training losses on the logit ``z`` (App. C names none): binary cross-entropy on
#: sigmoid(z), squared error of sigmoid(z) to the 0/1 label, hinge on z with labels +-1
LOSSES = ("bce", "mse", "hinge")


def loss_fn(name: str, reduction: str = "mean") -> Callable:
    """``f(logit, y01) -> loss`` for a name in :data:`LOSSES`."""
    if name == "bce":
        return lambda z, y: nn.functional.binary_cross_entropy_with_logits(
            z, y, reduction=reduction
        )
    if name == "mse":
        return lambda z, y: nn.functional.mse_loss(torch.sigmoid(z), y, reduction=reduction)
    if name == "hinge":

        def hinge(z, y):
            h = torch.relu(1.0 - (2.0 * y - 1.0) * z)
            return h.sum() if reduction == "sum" else h.mean()

        return hinge
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


def l2_single_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """One L2 PGD step of length ``eps`` up the loss gradient, clipped to [0, 1]."""
    x = x.detach().requires_grad_(True)
    loss = nn.functional.binary_cross_entropy_with_logits(model(x), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    norm = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (x + eps * g / norm).clamp(0.0, 1.0).detach()


#: at most this many saved training states per low-dim run (see :func:`train`)
SAVES = 20


def train(
    model: TwoLayerNet,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    adversarial_eps: float | None = None,
    snapshot_epochs: tuple[int, ...] = (),
    on_snapshot: Callable[[int, TwoLayerNet], None] | None = None,
    progress: Callable[[int, float, float], None] | None = None,
    loss: str = "bce",
    resume: Resume | None = None,
) -> dict[str, np.ndarray]:
    """SGD on ``loss`` (:data:`LOSSES`; default BCE); returns per-epoch loss and accuracy
    (epoch 0 = init).

    With ``adversarial_eps`` every batch is replaced by its single-step L2 PGD
    counterpart (true labels), as in DMM Fig. 3. ``resume``: save the training state
    every ``resume.every`` epochs, at most :data:`SAVES` times, and go on from a saved
    one (as :func:`pipeline_lib.training.train_classifier`; what ``on_snapshot``
    collected is the caller's to save, with ``resume.extra_state``).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed + 104729)
    y = y.float()
    hist: dict[str, list[float]] = {"loss": [], "accuracy": []}  # restored on resume
    lossf = loss_fn(loss)

    def record(epoch: int) -> None:
        with torch.no_grad():
            logit = model(x)
            value = lossf(logit, y).item()
            acc = ((logit >= 0).float() == y).float().mean().item()
        check_finite(value, "the low-dim network", epoch)
        hist["loss"].append(value)
        hist["accuracy"].append(acc)
        if progress is not None:
            progress(epoch, value, acc)
        if on_snapshot is not None and epoch in snapshot_epochs:
            on_snapshot(epoch, model)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        idx = idx.to(x.device)
        xb, yb = x[idx], y[idx]
        if adversarial_eps is not None:
            xb = l2_single_step(model, xb, yb, adversarial_eps)
        return lossf(model(xb), yb)

    if resume is not None:
        # hundreds of epochs of milliseconds: a save every epoch cost ~2.5 s per 200-epoch
        # job; at most SAVES saves, a kill loses under a second
        resume.at_most(SAVES, epochs)
    training = TrainingState(model, opt, gen, hist)
    start = training.restore(resume)
    if start == 1:
        record(0)
    epochs_left = range(start, epochs + 1)
    for epoch in bar(epochs_left, len(epochs_left), "low-dim training (epochs)"):
        name = "the low-dim network"
        run_epoch(model, opt, x.shape[0], batch_size, gen, batch_loss, name, epoch, progress=False)
        record(epoch)
        training.save(resume, epoch, epochs)
    return {k: np.asarray(v) for k, v in hist.items()}


@torch.no_grad()
def evaluate(
    model: nn.Module, points: np.ndarray | torch.Tensor, chunk: int | None = None
) -> np.ndarray:
    """Logits at many points, in chunks.

    For :class:`TwoLayerNet` the hidden activations go into one preallocated buffer
    (``addmm`` + in-place ReLU + ``mv``): with chunks that fit in cache this is ~15x
    faster on a CPU core than calling ``forward`` on large chunks, with equal results.
    """
    p0 = next(model.parameters())
    dim = np.shape(points)[-1]
    pts = torch.as_tensor(np.asarray(points), dtype=p0.dtype).reshape(-1, dim)
    if chunk is None:
        chunk = 65536 if p0.device.type == "cuda" else 512
    out = torch.empty(pts.shape[0], dtype=p0.dtype, device=p0.device)
    if isinstance(model, TwoLayerNet):
        w, b, u = model.hidden.weight, model.hidden.bias, model.out_weight
        buf = torch.empty(min(chunk, pts.shape[0]), w.shape[0], dtype=p0.dtype, device=p0.device)
        for i in range(0, pts.shape[0], chunk):
            x = pts[i : i + chunk].to(p0.device)
            h = buf[: x.shape[0]]
            torch.addmm(b, x, w.t(), out=h)
            h.clamp_(min=0)
            torch.mv(h, u, out=out[i : i + x.shape[0]])
    else:
        for i in range(0, pts.shape[0], chunk):
            out[i : i + chunk] = model(pts[i : i + chunk].to(p0.device)).reshape(-1)
    return out.cpu().numpy().reshape(np.shape(points)[:-1])


def grid_axes(dim: int, res: int) -> list[np.ndarray]:
    return [np.linspace(0.0, 1.0, res) for _ in range(dim)]


def evaluate_grid(model: nn.Module, dim: int, res: int) -> np.ndarray:
    """Logits on the regular grid over [0,1]^dim, shape (res,)*dim, indexing 'ij'."""
    mesh = np.stack(np.meshgrid(*grid_axes(dim, res), indexing="ij"), axis=-1)
    return evaluate(model, mesh)


def evaluate_normal_lines(
    model: nn.Module, points: np.ndarray, normal: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """Logits along ``p + s * normal`` for each point and offset; NaN outside the cube."""
    lines = points[:, None, :] + offsets[None, :, None] * normal[None, None, :]
    vals = evaluate(model, lines)
    inside = np.all((lines >= 0) & (lines <= 1), axis=-1)
    return np.where(inside, vals, np.nan)


def input_gradients(model: nn.Module, points: np.ndarray) -> np.ndarray:
    """d logit / d x at each point: one backward pass of the summed logits. The network
    maps each point on its own (no batch statistics), so the gradient of the sum with
    respect to point i is that of its own logit; equal to ``torch.func.vmap(grad(f))``,
    without torch.func's one-time set-up (~1.3 s per job on this CPU)."""
    p0 = next(model.parameters())
    pts = torch.as_tensor(np.asarray(points), dtype=p0.dtype, device=p0.device)
    pts = pts.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(model(pts).sum(), pts)
    return g.detach().cpu().numpy()


def normal_offsets(normal_steps: int, reach: float = 0.5) -> np.ndarray:
    return np.linspace(-reach, reach, normal_steps)


def measure_snapshot(
    model: nn.Module,
    data,
    train_x: np.ndarray,
    res: int,
    offsets: np.ndarray,
) -> dict[str, np.ndarray]:
    """Everything recorded about the boundary at one epoch (see run_experiment)."""
    from .boundary import angle_to_subspace, distance_to_points, grid_zero_crossings
    from .boundary import nearest_crossing_offset as nco

    dim = data.sizes["feature"]
    normal = data.normal_basis.values
    if normal.shape[0] != 1:
        raise ValueError("normal-line measurements need a codimension-1 manifold")
    normal = normal[0]
    grid = evaluate_grid(model, dim, res)
    cloud = grid_zero_crossings(grid, grid_axes(dim, res))
    probes = data.probe_x.values.astype(np.float64)
    probe_off = nco(evaluate_normal_lines(model, probes, normal, offsets), offsets)
    train_off = nco(evaluate_normal_lines(model, train_x, normal, offsets), offsets)
    # Euclidean distance: nearest grid zero crossing, or the crossing found along the
    # normal line when that one is nearer (both lie on the boundary).
    probe_dist = np.fmin(distance_to_points(probes, cloud), np.abs(probe_off))
    train_dist = np.fmin(distance_to_points(train_x, cloud), np.abs(train_off))
    grads = input_gradients(model, train_x)
    return {
        "grid_logit": grid.astype(np.float32),
        "probe_normal_offset": probe_off,
        "probe_distance": probe_dist,
        "train_normal_offset": train_off,
        "train_distance": train_dist,
        "train_gradient": grads,
        "gradient_angle": angle_to_subspace(grads, data.tangent_basis.values),
        "probe_logit": evaluate(model, probes),
    }


#: the training variants: true labels, adversarial training, and two random-label
#: controls (one coin flip per point; one random class per cluster)
VARIANTS = ("clean", "adversarial", "random_labels", "random_clusters")

GRID = "*grid"  # stands for the grid's axes (grid_0, grid_1[, grid_2])
#: A training run's store: name -> (dims, description, units), in store order.
RUN_TABLE: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "loss": (
        ("train_epoch",),
        "mean training loss (BCE unless configured) on the training set",
        None,
    ),
    "train_accuracy": (("train_epoch",), "accuracy on the training labels used", "1"),
    "test_accuracy": (
        ("epoch",),
        "accuracy on held-out points against the true (cluster) labels",
        "1",
    ),
    "grid_logit": (
        ("epoch", GRID),
        "network logit on a regular grid over the input cube (boundary = zero level)",
        None,
    ),
    "probe_normal_offset": (
        ("epoch", "probe"),
        "signed offset along the manifold normal from the probe to "
        "the nearest boundary crossing (NaN: none in the cube)",
        "input",
    ),
    "probe_distance": (
        ("epoch", "probe"),
        "Euclidean distance from the probe to the decision boundary",
        "input",
    ),
    "probe_logit": (("epoch", "probe"), "logit at the probe", None),
    "train_normal_offset": (
        ("epoch", "train_sample"),
        "signed offset along the normal from a training point to "
        "the nearest boundary crossing (dimple depth)",
        "input",
    ),
    "train_distance": (
        ("epoch", "train_sample"),
        "Euclidean distance from a training point to the boundary",
        "input",
    ),
    "train_gradient": (
        ("epoch", "train_sample", "feature"),
        "input gradient of the logit at a training point",
        None,
    ),
    "gradient_angle": (
        ("epoch", "train_sample"),
        "angle between the input gradient and the manifold (90 = perpendicular)",
        "degree",
    ),
    "train_x": (("train_sample", "feature"), "training point", "input"),
    "train_label": (
        ("train_sample",),
        "label used in training (random for the random-label controls)",
        None,
    ),
    "true_label": (("train_sample",), "cluster label of the training point", None),
}


def run_experiment(
    data,
    *,
    variant: str,
    seed: int,
    hidden: int,
    output_weights: str,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    adversarial_eps: float | None,
    snapshot_epochs: list[int],
    res: int,
    normal_steps: int,
    device: torch.device,
    log: Callable[[str], None] = print,
    loss: str = "bce",
    resume: Resume | None = None,
):
    """Train one network on a low-dim dataset and record its boundary at snapshots.

    ``resume``: go on from a saved training state (the snapshots taken before it are
    saved with it). Returns ``(xarray.Dataset, checkpoint dict)``.
    """
    from pipeline_lib.zarr_io import table_dataset

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; allowed: {VARIANTS}")
    train_mask = (data.split == "train").values
    test_mask = ~train_mask
    train_x = data.x.values[train_mask].astype(np.float32)
    true_y = data.label.values[train_mask].astype(np.int8)
    if variant == "random_labels":
        y = random_labels(len(true_y), seed)
    elif variant == "random_clusters":
        cluster = data.cluster_id.values[train_mask]
        centre_labels = np.zeros(data.sizes["cluster"], dtype=np.int8)
        centre_labels[cluster] = true_y  # every point of a cluster has its centre's label
        y = random_cluster_labels(cluster, centre_labels, seed)
    else:
        y = true_y
    test_x = torch.as_tensor(data.x.values[test_mask], device=device)
    test_y = torch.as_tensor(data.label.values[test_mask].astype(np.float32), device=device)
    eps = adversarial_eps if variant == "adversarial" else None

    model = TwoLayerNet(data.sizes["feature"], hidden, output_weights, seed=seed).to(device)
    offsets = normal_offsets(normal_steps)
    snaps: dict[int, dict] = {}
    states: dict[int, dict] = {}
    test_acc: dict[int, float] = {}

    def on_snapshot(epoch: int, m: nn.Module) -> None:
        snaps[epoch] = measure_snapshot(m, data, train_x.astype(np.float64), res, offsets)
        states[epoch] = {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
        with torch.no_grad():
            test_acc[epoch] = ((m(test_x) >= 0).float() == test_y).float().mean().item()
        s = snaps[epoch]
        log(
            f"snapshot epoch {epoch}: mean probe distance {np.nanmean(s['probe_distance']):.4f}"
            if np.isfinite(s["probe_distance"]).any()
            else f"snapshot epoch {epoch}: no boundary inside the cube"
        )

    if resume is not None:
        # checkpoints hold tensors, not NumPy arrays: the snapshots travel as tensors
        def extra_state() -> dict:
            snap_t = {e: {k: torch.from_numpy(v) for k, v in s.items()} for e, s in snaps.items()}
            return {"snaps": snap_t, "states": states, "test_acc": test_acc}

        def restore_extra(extra: dict) -> None:
            snaps.update(
                {e: {k: v.numpy() for k, v in s.items()} for e, s in extra["snaps"].items()}
            )
            states.update(extra["states"])
            test_acc.update(extra["test_acc"])

        resume.extra_state, resume.restore_extra = extra_state, restore_extra

    def progress(epoch: int, loss: float, acc: float) -> None:
        if epoch % max(1, epochs // 20) == 0 or epoch == epochs:
            log(f"epoch {epoch}/{epochs} loss {loss:.4f} train accuracy {acc:.3f}")

    hist = train(
        model,
        torch.as_tensor(train_x, device=device),
        torch.as_tensor(y, device=device),
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        seed=seed,
        adversarial_eps=eps,
        snapshot_epochs=tuple(snapshot_epochs),
        on_snapshot=on_snapshot,
        progress=progress,
        loss=loss,
        resume=resume,
    )
    ep = sorted(snaps)
    dim = data.sizes["feature"]
    gdims = tuple(f"grid_{i}" for i in range(dim))

    def stack(key):
        return np.stack([snaps[e][key] for e in ep])

    values = {k: stack(k) for k in RUN_TABLE if k in snaps[ep[0]]}  # per snapshot
    values |= {
        "loss": hist["loss"],
        "train_accuracy": hist["accuracy"],
        "test_accuracy": np.array([test_acc[e] for e in ep]),
        "train_x": train_x,
        "train_label": y,
        "true_label": true_y,
    }
    axis = np.linspace(0.0, 1.0, res)
    table = {
        k: (tuple(d for g in dims for d in (gdims if g == GRID else (g,))), desc, unit)
        for k, (dims, desc, unit) in RUN_TABLE.items()
    }
    ds = table_dataset(
        table,
        values,
        coords={
            "epoch": np.asarray(ep),
            "train_epoch": np.arange(len(hist["loss"])),
            **{g: axis for g in gdims},
            "feature": np.arange(dim),
        },
        attrs={
            "manifold": data.attrs["manifold"],
            "variant": variant,
            "seed": seed,
            "loss": loss,
            "tangent_basis": data.tangent_basis.values.tolist(),
        },
    )
    ckpt = {
        "kind": "TwoLayerNet",
        "init": {"in_dim": dim, "hidden": hidden, "output_weights": output_weights, "seed": seed},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "snapshots": states,
    }
    return ds, ckpt


def load_model(path, epoch: int | None = None, map_location: str = "cpu") -> TwoLayerNet:
    """Load a checkpoint written by the workflow (final weights, or a snapshot epoch)."""
    ckpt = checkpoints.load(path, map_location)
    model = TwoLayerNet(**ckpt["init"])
    model.load_state_dict(ckpt["state_dict"] if epoch is None else ckpt["snapshots"][epoch])
    return model
