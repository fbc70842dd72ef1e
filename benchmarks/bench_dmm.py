"""Micro-benchmark of the two costly inner loops of the DMM experiments.

1. PGD throughput (``pipeline_lib.attacks.pgd``, L2, eps=2.0, step 0.04, 50 steps:
   the paper's App. F settings) against a briefly trained ``MLPClassifier``
   (784-256-256-10), with and without per-sample early stop, plus the overhead of
   the on-manifold projection hook (``subspace_projector(basis, "on")`` with a
   random orthonormal (N, 16, 784) basis; early stop off, same steps). Reported:
   images/s, speed-up ratio, mean gradient steps per image, success rates.
   The classifier is trained on Fashion-MNIST when it can be found locally
   (``pipeline_lib.natural.load_arrays``), else on a synthetic 10-class problem
   (a note is printed); the attacked images are the first N correctly classified
   test images.

2. Tangent bases (``pipeline_lib.tangents.tangent_bases``: vmapped forward-mode
   Jacobian of the decoder plus a QR) against one batched ``decode`` of the same
   codes, for an untrained ``MLPAutoencoder`` (k=16); the Jacobian and the QR are
   also timed separately. ``--full`` adds a ``VGGAutoencoder`` (3x32x32, k=128) with
   ``--n-vgg`` codes (slow on CPU).

Every timing is the median (and best) of ``--repeats`` runs after one warm-up run;
ratios are taken within this single run. Nothing is asserted. Run it with::

    .venv/bin/python benchmarks/bench_dmm.py [--n 500] [--repeats 3]
        [--device auto|cpu|cuda] [--threads T] [--full]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import torch
from _bench_common import setup, table, timed

from pipeline_lib.attacks import pgd, subspace_projector
from pipeline_lib.models import MLPAutoencoder, MLPClassifier, VGGAutoencoder
from pipeline_lib.natural import DatasetError, load_arrays
from pipeline_lib.tangents import (
    RankDeficientError,
    decoder_jacobian,
    orthonormal_basis,
    tangent_bases,
)
from pipeline_lib.training import accuracy, train_classifier

EPS, STEP, STEPS = 2.0, 0.04, 50  # DMM App. F (L2)
N_TRAIN, EPOCHS = 20_000, 2  # 200 SGD steps of batch 200


def classifier_data() -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(source, x_train, y_train, x_test, y_test): float (N,1,28,28) in [0,1], long labels."""
    try:
        with tempfile.TemporaryDirectory() as cache:
            arrays = load_arrays("fashion_mnist", None, False, cache)
        (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]

        def conv(a):
            return torch.from_numpy(a).float().div_(255.0)

        return (
            "Fashion-MNIST",
            conv(xtr[:N_TRAIN]),
            torch.from_numpy(ytr[:N_TRAIN]),
            conv(xte),
            torch.from_numpy(yte),
        )
    except DatasetError as exc:
        print(f"note: Fashion-MNIST not available ({str(exc)[:80]}...); using synthetic data")
    gen = torch.Generator().manual_seed(0)
    protos = torch.rand(10, 1, 28, 28, generator=gen)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 10, (n,), generator=gen)
        noise = 0.35 * torch.randn(n, 1, 28, 28, generator=gen)
        return (protos[y] + noise).clamp(0, 1), y

    xtr, ytr = draw(N_TRAIN)
    xte, yte = draw(10_000)
    return "synthetic 10-class", xtr, ytr, xte, yte


def bench_pgd(args, device: torch.device) -> None:
    t0 = time.perf_counter()
    source, xtr, ytr, xte, yte = classifier_data()
    torch.manual_seed(0)
    model = MLPClassifier().to(device)
    train_classifier(
        model, xtr, ytr, epochs=EPOCHS, lr=0.01, weight_decay=1e-4, batch_size=200, seed=0
    )
    model.eval()
    acc = accuracy(model, xte, yte)
    with torch.no_grad():
        pred = torch.cat(
            [model(xte[i : i + 2000].to(device)).argmax(1).cpu() for i in range(0, len(xte), 2000)]
        )
    keep = (pred == yte).nonzero()[:, 0][: args.n]
    x, y = xte[keep].to(device), yte[keep].to(device)
    n = x.shape[0]
    print(
        f"classifier: MLP 784-256-256-10 on {source}, {len(xtr)} images x {EPOCHS} epochs, "
        f"test acc {acc:.3f}; attacking {n} correctly classified test images "
        f"(setup {time.perf_counter() - t0:.1f} s)"
    )
    print(f"PGD L2 eps={EPS} step={STEP} steps={STEPS}, no random start")

    g = torch.Generator().manual_seed(1)
    basis = torch.linalg.qr(torch.randn(n, 784, 16, generator=g))[0].transpose(1, 2)
    basis = basis.contiguous().to(device)
    hook = subspace_projector(basis, "on")
    common = dict(norm="l2", eps=EPS, step_size=STEP, steps=STEPS)
    cases = [
        ("early stop on", dict(early_stop=True)),
        ("early stop off", dict(early_stop=False)),
        ("off + on-manifold hook", dict(early_stop=False, project=hook)),
    ]
    res = {}
    for name, kw in cases:
        res[name] = timed(lambda kw=kw: pgd(model, x, y, **common, **kw), args.repeats, device)
    ref = res["early stop off"][0]
    rows = []
    for name, (med, best, r) in res.items():
        succ = r.success
        # gradient steps actually taken: the success step with early stop, else all STEPS
        if name == "early stop on":
            grad = torch.where(succ, r.steps, torch.full_like(r.steps, STEPS)).float()
        else:
            grad = torch.full((n,), float(STEPS))
        ratio = ref / med
        rows.append(
            [
                name,
                f"{med * 1e3:.1f}",
                f"{best * 1e3:.1f}",
                f"{n / med:,.0f}",
                f"{ratio:.2f}x",
                f"{grad.mean():.1f}",
                f"{succ.float().mean():.3f}",
                f"{r.norm[succ].mean():.3f}" if succ.any() else "-",
            ]
        )
    table(
        ["PGD variant", "med ms", "best ms", "img/s", "vs off", "steps/img", "success", "L2 adv"],
        rows,
    )
    on, off = res["early stop on"][2], res["early stop off"][2]
    print(
        f"early-stop speed-up {ref / res['early stop on'][0]:.2f}x; success on/off "
        f"{on.success.float().mean():.3f}/{off.success.float().mean():.3f}; "
        f"hook overhead {res['off + on-manifold hook'][0] / ref:.2f}x "
        "(random basis: on-manifold success is not meaningful)"
    )


def bench_tangents(label: str, model: torch.nn.Module, k: int, n: int, args, device) -> list[str]:
    model = model.to(device).eval()
    codes = torch.randn(n, k, generator=torch.Generator().manual_seed(2)).to(device)
    chunk = 256
    decoder = model.decoder if hasattr(model, "decoder") else model.decode

    def decode():
        with torch.no_grad():
            return model.decode(codes)

    def jac():
        return torch.cat(
            [decoder_jacobian(decoder, codes[i : i + chunk]).detach() for i in range(0, n, chunk)]
        )

    t_dec = timed(decode, args.repeats, device)
    t_jac = timed(jac, args.repeats, device)
    j = t_jac[2]
    try:
        t_qr = timed(lambda: orthonormal_basis(j), args.repeats, device)
        t_tan = timed(lambda: tangent_bases(decoder, codes, chunk=chunk), args.repeats, device)
    except RankDeficientError as exc:
        print(f"note: {label}: {exc}")
        return []
    rows = []
    for part, t in (("decode", t_dec), ("jacobian", t_jac), ("QR", t_qr), ("tangent_bases", t_tan)):
        rows.append(
            [
                f"{label} {part}",
                str(n),
                f"{t[0] * 1e3:.1f}",
                f"{t[1] * 1e3:.1f}",
                f"{t[0] * 1e3 / n:.4f}",
                f"{t[0] / t_dec[0]:.1f}x",
            ]
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="images / codes per batch (default 500)")
    ap.add_argument("--n-vgg", type=int, default=32, help="codes for the VGG case (--full)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--full", action="store_true", help="also time the VGG autoencoder (slow)")
    args = ap.parse_args()
    # emitted from inside torch.func on the first jacfwd call (as filtered in pyproject's pytest)
    warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
    device, dev_name = setup(args.device, args.threads)
    print(
        f"bench_dmm: torch {torch.__version__}, device {device} ({dev_name}), "
        f"threads {torch.get_num_threads()}, n {args.n}, repeats {args.repeats}"
    )
    t0 = time.perf_counter()

    print("\n[1] PGD throughput: early stop vs none, and the projection hook")
    bench_pgd(args, device)

    print("\n[2] Tangent bases (jacfwd + QR, chunk 256) vs one batched decode")
    rows = bench_tangents(
        "MLP k=16", MLPAutoencoder(in_shape=(1, 28, 28), k=16), 16, args.n, args, device
    )
    if args.full:
        vgg = VGGAutoencoder(in_shape=(3, 32, 32), k=128)
        rows += bench_tangents("VGG k=128", vgg, 128, args.n_vgg, args, device)
    else:
        print("(VGG autoencoder k=128 skipped; pass --full)")
    table(["stage", "n", "med ms", "best ms", "ms/img", "vs decode"], rows)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
