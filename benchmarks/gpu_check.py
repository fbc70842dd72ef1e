"""`make gpu-check`: what a CUDA GPU must show, in one run of a few minutes.

1. The benchmark rows that time device code (P1-P3, P8 of ``benchmarks/suite.py``) with
   ``--device cuda``.
2. Determinism of one training job on the GPU: the Squiggles CNN (the default config's
   width and depth) trained twice from the same seed with PyTorch's deterministic
   settings (``torch.use_deterministic_algorithms(True)``, ``CUBLAS_WORKSPACE_CONFIG``,
   cuDNN benchmark off), which must agree bitwise, and twice without them (the
   pipeline's default), whose largest parameter difference is reported; and the
   deterministic GPU run against the same training on the CPU (float tolerance only).
3. The paper config in miniature (``config/paper.yaml`` with ``config/paper_imagenet.yaml``,
   overlaid by ``config/paper_smoke.yaml``, on the tiny MNIST / CIFAR-10 / ImageNet
   files and ResNet-50 weights of ``tests/fake_datasets.py``) run on CUDA in a scratch
   directory.

Fails with a clear message and exit status 2 where torch sees no CUDA device. Writes
``results/bench/gpu_check.json`` (the settings recorded with the results).

Run: ``.venv/bin/python benchmarks/gpu_check.py [--json PATH] [--device cuda|cpu] [--steps N]``
(``--device cpu`` runs part 2 on the CPU, for testing the script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts

import torch  # noqa: E402
import yaml  # noqa: E402

NO_CUDA = (
    "make gpu-check needs a CUDA GPU, and torch sees none (torch {torch}, built for CUDA "
    "{cuda}; CUDA_VISIBLE_DEVICES={visible!r}). Run it on the GPU machine; everything "
    "else (`make test`, `make bench`) runs on the CPU."
)


def train_once(device: torch.device, deterministic: bool, steps: int = 60) -> dict:
    """The default Squiggles CNN trained ``steps`` Adam steps on fixed random images
    (seeded on the CPU), on ``device``; its final parameters (on the CPU)."""
    from pipeline_lib.models import SquiggleCNN

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["squiggles"]
    clf, res = cfg["classifier"], int(cfg["resolution"])
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = SquiggleCNN((1, res, res), 2, clf["width"], clf["blocks"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=clf["lr"])
    x = torch.rand(steps, clf["batch_size"], 1, res, res, generator=gen)
    y = torch.randint(0, 2, (steps, clf["batch_size"]), generator=gen)
    model.train()
    for i in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[i].to(device)), y[i].to(device))
        loss.backward()
        opt.step()
    torch.use_deterministic_algorithms(False)
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def max_diff(a: dict, b: dict) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def determinism(device: torch.device, steps: int = 60) -> dict:
    t0 = time.perf_counter()
    det = [train_once(device, True, steps) for _ in range(2)]
    free = [train_once(device, False, steps) for _ in range(2)]
    cpu = train_once(torch.device("cpu"), True, steps)
    return {
        "deterministic_bitwise_equal": all(torch.equal(det[0][k], det[1][k]) for k in det[0]),
        "deterministic_max_diff": max_diff(*det),
        "default_max_diff": max_diff(*free),
        "vs_cpu_max_diff": max_diff(det[0], cpu),
        "settings": {
            "use_deterministic_algorithms": True,
            "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
            "cudnn.benchmark": False,
            "cudnn.deterministic": True,
        },
        "steps": steps,
        "seconds": time.perf_counter() - t0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--json", type=Path, default=ROOT / "results" / "bench" / "gpu_check.json")
    ap.add_argument("--steps", type=int, default=60, help="training steps of the determinism check")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            NO_CUDA.format(
                torch=torch.__version__,
                cuda=torch.version.cuda,
                visible=os.environ.get("CUDA_VISIBLE_DEVICES"),
            ),
            file=sys.stderr,
        )
        return 2
    device = torch.device(args.device)
    out: dict = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "machine": platform.platform(),
    }
    if device.type == "cuda":
        bench_json = args.json.with_name("gpu_suite.json")
        cmd = [sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--device", "cuda"]
        cmd += ["--rows", "P1", "P2", "P3", "P8", "--json", str(bench_json)]
        print("== benchmark rows P1-P3, P8 on CUDA", flush=True)
        subprocess.run(cmd, check=True)
        out["bench"] = json.loads(bench_json.read_text())["rows"]
    print(f"== determinism of one training job on {device}", flush=True)
    out["determinism"] = determinism(device, args.steps)
    print(json.dumps(out["determinism"], indent=2), flush=True)
    smoke = ROOT / "config" / "paper_smoke.yaml"
    if device.type == "cuda" and smoke.exists():
        print("== the paper-shaped smoke config on CUDA", flush=True)
        sys.path.insert(0, str(ROOT / "tests"))
        from e2e import copy_workflow
        from fake_datasets import write_smoke_data

        with tempfile.TemporaryDirectory() as tmp:
            wd = copy_workflow(ROOT, Path(tmp) / "wf")
            write_smoke_data(wd / "data" / "smoke")  # MNIST, CIFAR-10, ImageNet stand-ins
            t0 = time.perf_counter()
            res = subprocess.run(
                [str(Path(sys.executable).parent / "snakemake"), "--cores", "all", "figures/",
                 "--configfile", "config/paper.yaml", "config/paper_imagenet.yaml",
                 "config/paper_smoke.yaml",
                 "--config", "device=cuda"],
                cwd=wd, capture_output=True, text=True,
            )  # fmt: skip
            out["smoke"] = {"rc": res.returncode, "seconds": time.perf_counter() - t0}
            if res.returncode != 0:
                print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
    else:
        out["smoke"] = None if device.type == "cuda" else "not run on the CPU"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"written {args.json}")
    smoke_ok = not isinstance(out["smoke"], dict) or out["smoke"]["rc"] == 0
    return 0 if out["determinism"]["deterministic_bitwise_equal"] and smoke_ok else 1


if __name__ == "__main__":
    sys.exit(main())
