"""`make bench`: the performance suite. Every row is a ratio measured side by side in
this one run, on the same inputs, on this machine; nothing is asserted, the table says
whether each target is met.

P1  our L2 PGD without early stop vs torchattacks' PGDL2 (same model, batch, eps,
    step, steps): >= 1.0x throughput
P2  our PGD with per-sample early stop vs P1's torchattacks run, equal success: >= 90%
    of what early stop can reach at all (the bound: P1's ratio x 50 / mean steps taken,
    as a sample's work is proportional to the steps it takes)
P3  tangent bases vs one batched decoder forward over the same N(k+1) codes (the
    floor): <= 2x the floor
P4  Squiggles generation + labelling vs a per-sample NumPy + shapely loop: >= 10x
P5  `snakemake -n` on the up-to-date default DAG <= 5 s; an edited attack parameter
    reruns 0 training jobs
P6  peak memory of the tangent stage, 2000 CIFAR-sized inputs (n 3072, k 128: 3 GB
    of bases): < 1 GB
P7  Squiggles training on curves generated while training (one DataLoader worker) vs
    the same curves from an in-memory set, same model and batch: >= 0.9x throughput;
    and a training job's peak memory with 2^21 and 2^26 configured streamed curves
P8  the Squiggles CNN (default width and depth) channels-last, as built, vs the same
    weights in NCHW: a training step and an attack's input gradient, >= 1.2x each

Also: the GFLOP/s PGD reaches on the default MLP next to a plain matmul measured in the
same run (the machine's practical limit).

Run: ``.venv/bin/python benchmarks/suite.py [--rows P1 P3 ...] [--device cpu|cuda]
[--threads T] [--json results/bench/suite.json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import yaml
from _bench_common import interleaved, setup, table, timed

from pipeline_lib.attacks import pgd
from pipeline_lib.models import MLPAutoencoder, MLPClassifier
from pipeline_lib.tangents import tangent_bases, tangent_decoder
from pipeline_lib.training import train_classifier

ROOT = Path(__file__).resolve().parents[1]
# the default config's Fashion-MNIST classifier and attack (App. F): what P1/P2 time
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
CLASSIFIER = DEFAULT["dmm"]["fashion_mnist"]["classifier"]
ATTACK = DEFAULT["dmm"]["fashion_mnist"]["attack"]
EPS, STEP, STEPS = float(ATTACK["eps"]), float(ATTACK["step"]), int(ATTACK["steps"])
BENCH_EPOCHS = 10  # the default trains 40; 10 reach 81% test accuracy, enough to attack


def row(key, what, ours, ref, ratio, target, met, note="") -> dict:
    return {
        "row": key,
        "what": what,
        "ours": ours,
        "reference": ref,
        "ratio": ratio,
        "target": target,
        "met": bool(met),
        "note": note,
    }


# ----------------------------------------------------------------------------- P1, P2

P2_SHARE = 0.9  # P2's target: this share of the speed-up early stop can reach at all


def _mlp_and_batch(n: int, device: torch.device):
    """The default DMM classifier (MLP 784-256-256-10) trained with the default config's
    optimiser settings for BENCH_EPOCHS epochs on 10 000 images, and n correctly
    classified test images."""
    from bench_dmm import classifier_data

    source, xtr, ytr, xte, yte = classifier_data()
    torch.manual_seed(0)
    model = MLPClassifier().to(device)
    train_classifier(
        model,
        xtr[:10_000],
        ytr[:10_000],
        epochs=BENCH_EPOCHS,
        lr=float(CLASSIFIER["lr"]),
        momentum=float(CLASSIFIER["momentum"]),
        weight_decay=float(CLASSIFIER["weight_decay"]),
        batch_size=int(CLASSIFIER["batch_size"]),
        seed=0,
    )
    model.eval()
    with torch.no_grad():
        pred = torch.cat(
            [model(xte[i : i + 2000].to(device)).argmax(1).cpu() for i in range(0, len(xte), 2000)]
        )
    keep = (pred == yte).nonzero()[:, 0][:n]
    acc = float((pred == yte).float().mean())
    return source, acc, model, xte[keep].to(device), yte[keep].to(device)


def _mlp_flops(model: torch.nn.Module) -> int:
    """Multiply-adds x 2 of one forward pass per sample (the Linear layers)."""
    return sum(
        2 * m.in_features * m.out_features
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    )


def _gemm_floor(model: torch.nn.Module, x: torch.Tensor):
    """The matrix products any PGD on this MLP must do, nothing else: per step the
    forward ``addmm`` of each Linear and the input-gradient ``mm`` back through it, on
    the whole batch, for all STEPS steps plus the final check's forward."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    ws = [m.weight.detach() for m in layers]
    bs = [m.bias.detach() for m in layers]
    h0 = x.flatten(1)

    def run():
        for it in range(STEPS + 1):
            h = h0
            for w, b in zip(ws, bs, strict=True):
                h = torch.addmm(b, h, w.T)
            if it == STEPS:
                return h
            g = torch.ones_like(h)
            for w in reversed(ws):
                g = g @ w

    return run


def bench_pgd(args, device) -> tuple[list[dict], dict]:
    import torchattacks

    source, acc, model, x, y = _mlp_and_batch(args.n_pgd, device)
    n = x.shape[0]
    ta = torchattacks.PGDL2(model, eps=EPS, alpha=STEP, steps=STEPS, random_start=False)
    common = dict(norm="l2", eps=EPS, step_size=STEP, steps=STEPS)
    gemms = _gemm_floor(model, x)
    t = interleaved(
        {
            "torchattacks": lambda: ta(x, y),
            "full": lambda: pgd(model, x, y, early_stop=False, **common),
            "early": lambda: pgd(model, x, y, early_stop=True, **common),
            "gemms": gemms,
        },
        args.pgd_repeats,
        device,
    )
    t_ta, t_full, t_es = t["torchattacks"], t["full"], t["early"]
    t_gemm = t["gemms"][0]
    with torch.no_grad():
        ta_success = float((model(t_ta[2]).argmax(1) != y).float().mean())
    full, es = t_full[2], t_es[2]
    full_success = float(full.success.float().mean())
    es_success = float(es.success.float().mean())
    # gradient steps the early-stopped attack took: its success step, all STEPS otherwise
    taken = torch.where(es.success, es.steps, torch.full_like(es.steps, STEPS)).float()
    # per-sample work is proportional to the steps taken: the most early stop can save
    bound = STEPS / float(taken.mean())
    p1 = t_ta[0] / t_full[0]
    p2 = t_ta[0] / t_es[0]
    # what P2 can physically reach: P1's ratio with the work divided by the bound
    p2_bound = p1 * bound
    setting = (
        f"MLP 784-256-256-10 ({source}, test acc {acc:.3f}), {n} images, "
        f"eps {EPS}, step {STEP}, {STEPS} steps"
    )
    rows = [
        row(
            "P1",
            f"L2 PGD, no early stop, vs torchattacks PGDL2; {setting}",
            f"{n / t_full[0]:,.0f} img/s",
            f"{n / t_ta[0]:,.0f} img/s",
            p1,
            ">= 1.0x",
            p1 >= 1.0,
            f"success ours {full_success:.3f}, torchattacks {ta_success:.3f}; the "
            f"{STEPS} steps' GEMMs alone take {t_gemm / t_ta[0]:.0%} of torchattacks' time",
        ),
        row(
            "P2",
            "L2 PGD with per-sample early stop vs the torchattacks run of P1",
            f"{n / t_es[0]:,.0f} img/s",
            f"{n / t_ta[0]:,.0f} img/s",
            p2,
            f">= {P2_SHARE:.0%} of bound {p2_bound:.2f}x",
            p2 >= P2_SHARE * p2_bound and abs(es_success - ta_success) <= 0.01,
            f"{p2 / p2_bound:.0%} of the bound; success ours {es_success:.3f} vs "
            f"{ta_success:.3f}; mean steps taken {float(taken.mean()):.1f}/{STEPS}: early "
            f"stop divides the work by at most {bound:.2f}, x P1's {p1:.2f}x",
        ),
    ]
    # GFLOP/s: forward S+2 passes (loop S+1, success check 1), input-gradient backward S
    flops = n * _mlp_flops(model) * ((STEPS + 2) + STEPS)
    gflops = flops / t_full[0] / 1e9
    m = 2048
    a = torch.randn(m, m, device=device)
    b = torch.randn(m, m, device=device)
    t_mm = timed(lambda: a @ b, args.repeats, device)
    mm = 2 * m**3 / t_mm[0] / 1e9
    extra = {
        "pgd_gflops": gflops,
        "matmul_gflops": mm,
        "pgd_fraction_of_matmul": gflops / mm,
        "pgd_gemm_seconds": t_gemm,
        "pgd_gemm_fraction_of_torchattacks": t_gemm / t_ta[0],
        "pgd_gemm_fraction_of_ours": t_gemm / t_full[0],
        "setting": setting,
    }
    return rows, extra


# ----------------------------------------------------------------------------- P3


def bench_tangents(args, device) -> list[dict]:
    """The default autoencoder (MLP, k 16, hidden 512-256) at N codes."""
    k, n = 16, args.n_tangent
    torch.manual_seed(0)
    ae = MLPAutoencoder(in_shape=(1, 28, 28), k=k, hidden=(512, 256)).to(device).eval()
    codes = torch.randn(n, k, generator=torch.Generator().manual_seed(2)).to(device)
    many = torch.randn(n * (k + 1), k, generator=torch.Generator().manual_seed(3)).to(device)
    dec = tangent_decoder(ae)  # what the DMM tangent stage differentiates

    def floor():
        with torch.no_grad():
            return ae.decode(many)

    t = interleaved(
        {"floor": floor, "ours": lambda: tangent_bases(dec, codes, chunk=args.chunk)},
        args.repeats,
        device,
    )
    t_floor, t_tan = t["floor"], t["ours"]
    ratio = t_tan[0] / t_floor[0]
    return [
        row(
            "P3",
            f"tangent bases (exact Jacobian + orthonormalisation) of the default MLP autoencoder "
            f"(k {k}, 784 features), {n} codes, vs one decode of {n * (k + 1)} codes",
            f"{t_tan[0] * 1e3 / n:.3f} ms/img",
            f"{t_floor[0] * 1e3 / n:.3f} ms/img",
            ratio,
            "<= 2.0x floor",
            ratio <= 2.0,
            "ratio = our time / floor time (lower is better)",
        )
    ]


# ----------------------------------------------------------------------------- P4


def bench_squiggles_rows(args, device) -> list[dict]:
    from bench_squiggles import bench_variant

    out = []
    ns = argparse.Namespace(n=args.n_squiggles, resolution=60, repeats=args.repeats)
    for v in ("taylor", "sinenet"):
        _, rec = bench_variant(v, ns, device)
        ours, loop = rec["ours_s"]["total"], rec["loop_s"]["total"]
        out.append(
            row(
                "P4",
                f"Squiggles {v}: generation + labelling of {args.n_squiggles} curves at 60x60 vs "
                "a per-sample NumPy + shapely loop",
                f"{args.n_squiggles / ours:,.0f} curves/s",
                f"{args.n_squiggles / loop:,.0f} curves/s",
                loop / ours,
                ">= 10x",
                loop / ours >= 10 and rec["agree"],
                f"outputs agree: {rec['agree']} ({rec['label_mismatches']} label mismatches)",
            )
        )
    return out


# ----------------------------------------------------------------------------- P5


def _copy_workflow(dest: Path) -> Path:
    for name in ("Snakefile", "rules", "scripts", "config", "envs", "profiles", "report"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def _planned(out: str) -> dict[str, int]:
    m = re.search(r"Job stats:\n(.*?)\n\n", out, re.S)
    if not m:
        return {}
    jobs = {}
    for line in m.group(1).splitlines()[2:]:
        name, count = line.split()
        if name != "total":
            jobs[name] = int(count)
    return jobs


def _digest_cost(repeats: int, cache: Path) -> dict:
    """Seconds a fresh interpreter takes to compute the code digest of every workflow
    script (the Snakefile's parse-time cost of code-aware reruns), best of ``repeats``:
    cold (no cache: every module parsed) and warm (the content-keyed cache that a
    previous run left in .snakemake/, as in a no-op rerun)."""
    out = {}
    for kind in ("cold", "warm"):
        code = (
            "import glob, time\n"
            "t0 = time.perf_counter()\n"
            "from pipeline_lib import codedigest\n"
            + (f"codedigest.load_cache({str(cache)!r})\n" if kind == "warm" else "")
            + f"scripts = sorted(glob.glob({str(ROOT / 'scripts' / '*.py')!r}))\n"
            "[codedigest.script_digest(s) for s in scripts]\n"
            "print(len(scripts), time.perf_counter() - t0)\n"
        )
        runs = []
        for _ in range(repeats):
            res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            n, sec = res.stdout.split()
            runs.append(float(sec))
        out[kind], out["scripts"] = min(runs), int(n)
    return out


def bench_snakemake(args) -> list[dict]:
    """The default DAG made up to date by Snakemake's own bookkeeping: every output
    present and every job's metadata recorded (benchmarks/_uptodate.py), then timed
    `snakemake -n` runs and a dry run with an edited attack parameter."""
    smk = str(Path(sys.executable).parent / "snakemake")
    with tempfile.TemporaryDirectory() as tmp:
        wd = _copy_workflow(Path(tmp))
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "_uptodate.py"), str(wd)],
            check=True,
            capture_output=True,
            text=True,
        )
        times, out = [], ""
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = subprocess.run([smk, "-n", "figures/"], cwd=wd, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            out = res.stdout + res.stderr
        up_to_date = "Nothing to be done" in out and "missing metadata" not in out
        edited = json.loads(json.dumps(DEFAULT))
        edited["dmm"]["fashion_mnist"]["attack"]["eps"] = EPS + 0.5
        (wd / "edited.yaml").write_text(yaml.safe_dump(edited))
        res = subprocess.run(
            [smk, "-n", "figures/", "--configfile", "edited.yaml"],
            cwd=wd,
            capture_output=True,
            text=True,
        )
        jobs = _planned(res.stdout + res.stderr)
        digest = _digest_cost(args.repeats, wd / ".snakemake" / "pipeline_lib-code-digests.json")
    trainings = sum(
        c
        for r, c in jobs.items()
        if r
        in ("dmm_classifier", "dmm_autoencoder", "lowdim_train", "squiggles_train", "shells_base")
    )
    best = min(times)
    return [
        row(
            "P5",
            f"`snakemake -n figures/` on the up-to-date default DAG; then dmm attack eps "
            f"{EPS} -> {EPS + 0.5}",
            f"{best:.2f} s (median {statistics.median(times):.2f} s)",
            "5 s",
            best / 5.0,  # the share of the 5 s budget
            "<= 5 s; 0 trainings rerun",
            best <= 5.0 and up_to_date and trainings == 0 and sum(jobs.values()) > 0,
            f"ratio = time / 5 s; code digests of the {digest['scripts']} scripts at parse time: "
            f"{digest['warm']:.2f} s of it (cached; {digest['cold']:.2f} s with nothing "
            f"cached, after a code change); up to date: {up_to_date}; "
            f"edit reruns {sum(jobs.values())} jobs "
            f"({', '.join(f'{r} {c}' for r, c in sorted(jobs.items()))}), {trainings} trainings",
        )
    ]


# ----------------------------------------------------------------------------- P7


def bench_stream(args, device) -> list[dict]:
    """One epoch of the default Squiggles CNN on N curves, streamed (generated in one
    DataLoader worker while the training runs one torch thread, as squiggles_train does)
    vs stored in memory; then the peak memory at 2^21 and 2^26 configured curves."""
    from pipeline_lib.studies.squiggles import experiment as se
    from pipeline_lib.studies.squiggles import generators as gen

    sq = DEFAULT["squiggles"]
    cfg, res, n = sq["classifier"], sq["resolution"], args.n_stream
    # chunks of 512: the measured epoch (a few seconds) waits for its first chunk only
    # (~0.2 s to generate), as a real job's much longer epochs wait for theirs
    chunk = 512
    x, y = gen.curve_chunk("sinenet", 0, "train", 0, n, res)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def epoch(stream):
        torch.manual_seed(0)
        model, _, _ = se.build_classifier(cfg, res)
        model.to(device)
        kw = dict(epochs=1, lr=cfg["lr"], batch_size=cfg["batch_size"], noise_sigma=0.0)
        if stream:
            s = se.CurveStream("sinenet", 0, n, res, chunk, 1)
            return lambda: se.train_classifier(
                model, None, None, seed=0, log=lambda m: None, stream=s, **kw
            )
        return lambda: se.train_classifier(model, x, y, seed=0, log=lambda m: None, **kw)

    try:
        t = interleaved({"streamed": epoch(True), "stored": epoch(False)}, args.repeats, device)
    finally:
        torch.set_num_threads(threads)
    ts, tm = t["streamed"][0], t["stored"][0]
    mem = {}
    for p in (21, 26):
        r = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "_stream_memory.py"), str(2**p)],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-3000:])
        mem[p] = json.loads(r.stdout.strip().splitlines()[-1])
    peak = {p: m["peak_rss_mb"] + m["worker_peak_rss_mb"] for p, m in mem.items()}
    return [
        row(
            "P7",
            f"Squiggles training, default CNN, batch {cfg['batch_size']}, {n} SineNet curves "
            f"at {res}x{res}: generated in 1 worker (chunks of {chunk}) vs in memory",
            f"{n / ts:,.0f} curves/s",
            f"{n / tm:,.0f} curves/s",
            tm / ts,
            ">= 0.9x",
            tm / ts >= 0.9,
            f"1 training thread + 1 worker; peak memory of a streamed training job "
            f"(training + worker process, {mem[21]['batches']} batches): 2^21 curves "
            f"{peak[21]:,.0f} MB, 2^26 curves {peak[26]:,.0f} MB",
        )
    ]


# ----------------------------------------------------------------------------- P8


def bench_squiggle_cnn(args, device) -> list[dict]:
    """The Squiggles CNN as built (channels-last) vs a copy in NCHW: one training step
    (batch as the default config's) and one attack gradient (a batch of 100 curves)."""
    import copy

    from torch import nn

    from pipeline_lib.models import SquiggleCNN

    class NCHW(SquiggleCNN):
        def forward(self, x):
            return self.head(self.features(x.contiguous()))

    cfg = DEFAULT["squiggles"]["classifier"]
    res = DEFAULT["squiggles"]["resolution"]
    torch.manual_seed(0)
    ours = SquiggleCNN((1, res, res), 2, cfg["width"], cfg["blocks"]).to(device)
    ref = NCHW((1, res, res), 2, cfg["width"], cfg["blocks"]).to(device)
    ref.load_state_dict(ours.state_dict())
    ref = ref.to(memory_format=torch.contiguous_format)
    x = torch.rand(cfg["batch_size"], 1, res, res, device=device)
    y = torch.randint(0, 2, (cfg["batch_size"],), device=device)
    xa = torch.rand(100, 1, res, res, device=device)

    def step(model):
        m = copy.deepcopy(model).train()
        opt = torch.optim.Adam(m.parameters(), cfg["lr"])
        return lambda: (
            opt.zero_grad(),
            nn.functional.cross_entropy(m(x), y).backward(),
            opt.step(),
        )

    def grad(model):
        m = copy.deepcopy(model).eval()
        for p in m.parameters():
            p.requires_grad_(False)
        xg = xa.clone().requires_grad_(True)
        return lambda: torch.autograd.grad(m(xg).sum(), xg)[0]

    out = []
    for name, make, n in (
        ("training step", step, cfg["batch_size"]),
        ("attack gradient", grad, 100),
    ):
        t = interleaved({"ours": make(ours), "ref": make(ref)}, args.repeats * 3, device)
        (o, _, go), (r, _, gr) = t["ours"], t["ref"]
        note = f"{1e3 * o:.0f} vs {1e3 * r:.0f} ms"
        if name == "attack gradient":
            note += f"; gradients agree to {float((go - gr).abs().max()):.1e}"
        out.append(
            row(
                "P8",
                f"Squiggles CNN {name} (batch {n}, {res}x{res}, width {cfg['width']}, "
                f"{cfg['blocks']} blocks): channels-last vs NCHW",
                f"{n / o:,.0f} img/s",
                f"{n / r:,.0f} img/s",
                r / o,
                ">= 1.2x",
                r / o >= 1.2,
                note,
            )
        )
    return out


# ----------------------------------------------------------------------------- P6


def bench_memory(args) -> list[dict]:
    """Peak RSS of the tangent stage (streamed to Zarr) in a fresh process, next to the
    size of the bases it writes."""
    n, k, feat = args.n_memory, 128, 3072
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "_tangent_memory.py"), tmp, str(n), str(k)],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            raise RuntimeError(res.stderr[-3000:])
        info = json.loads(res.stdout.strip().splitlines()[-1])
    peak = info["peak_rss_mb"]
    size = n * k * feat * 4 / 2**20
    return [
        row(
            "P6",
            f"peak memory of the DMM tangent stage, {n} CIFAR-sized inputs (n {feat}, k {k}), "
            f"bases streamed to Zarr in chunks of {info['chunk']}",
            f"{peak:,.0f} MB peak RSS",
            f"{size:,.0f} MB of bases",
            peak / size,
            "< 1024 MB",
            peak < 1024,
            f"{info['seconds']:.0f} s; store {info['store_mb']:,.0f} MB on disk; baseline process "
            f"(imports only) {info['baseline_rss_mb']:,.0f} MB",
        )
    ]


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", nargs="+", default=["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"])
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all CPUs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--pgd-repeats", type=int, default=9, help="P1/P2 calls are short: more repeats"
    )
    ap.add_argument("--n-pgd", type=int, default=500)
    ap.add_argument("--n-tangent", type=int, default=500)
    ap.add_argument("--chunk", type=int, default=256, help="tangent bases per Jacobian chunk")
    ap.add_argument("--n-squiggles", type=int, default=1000)
    ap.add_argument("--n-memory", type=int, default=2000)
    ap.add_argument("--n-stream", type=int, default=4096, help="P7: curves per timed epoch")
    ap.add_argument("--json", type=Path, default=ROOT / "results" / "bench" / "suite.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
    device, dev_name = setup(args.device, args.threads)
    meta = {
        "torch": torch.__version__,
        "device": str(device),
        "device_name": dev_name,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "repeats": args.repeats,
        "pgd_repeats": args.pgd_repeats,
    }
    print(f"bench suite: {meta}", flush=True)
    rows, extra = [], {}
    t0 = time.perf_counter()
    wanted = set(args.rows)
    if wanted & {"P1", "P2"}:
        r, extra = bench_pgd(args, device)
        rows += [x for x in r if x["row"] in wanted]
    if "P3" in wanted:
        rows += bench_tangents(args, device)
    if "P4" in wanted:
        rows += bench_squiggles_rows(args, device)
    if "P5" in wanted:
        rows += bench_snakemake(args)
    if "P6" in wanted:
        rows += bench_memory(args)
    if "P7" in wanted:
        rows += bench_stream(args, device)
    if "P8" in wanted:
        rows += bench_squiggle_cnn(args, device)
    print()
    table(
        ["row", "ours", "reference", "ratio", "target", "met", "note"],
        [
            [
                r["row"],
                r["ours"],
                r["reference"],
                f"{r['ratio']:.2f}x",
                r["target"],
                "yes" if r["met"] else "NO",
                r["note"],
            ]
            for r in rows
        ],
    )
    print()
    for r in rows:
        print(f"{r['row']}: {r['what']}")
    if extra:
        print(
            f"\nPGD on the default MLP: {extra['pgd_gflops']:.1f} GFLOP/s; plain 2048x2048 matmul "
            f"{extra['matmul_gflops']:.1f} GFLOP/s -> "
            f"{100 * extra['pgd_fraction_of_matmul']:.0f}% of the machine's practical limit; "
            f"its GEMMs alone take {100 * extra['pgd_gemm_fraction_of_ours']:.0f}% of our full "
            f"PGD's time, {100 * extra['pgd_gemm_fraction_of_torchattacks']:.0f}% of "
            "torchattacks'"
        )
    print(
        f"\ntotal {time.perf_counter() - t0:.0f} s; peak RSS of this process "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows, "pgd_flops": extra}, indent=2))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
