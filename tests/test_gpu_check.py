"""`make gpu-check` without a GPU: a clear refusal; its determinism check on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_refuses_clearly_without_cuda(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no device visible, GPU or not
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(tmp_path / "out.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "needs a CUDA GPU" in res.stderr and "torch sees none" in res.stderr
    assert not (tmp_path / "out.json").exists()


def test_determinism_check_runs_and_agrees_on_the_cpu(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check

    a = gpu_check.train_once(torch.device("cpu"), True, steps=3)
    b = gpu_check.train_once(torch.device("cpu"), True, steps=3)
    assert gpu_check.max_diff(a, b) == 0.0
    assert not torch.are_deterministic_algorithms_enabled()  # left as found
    res = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device",
            "cpu",
            "--steps",
            "2",
            "--json",
            str(tmp_path / "o.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads((tmp_path / "o.json").read_text())
    det = out["determinism"]
    assert det["deterministic_bitwise_equal"] and det["vs_cpu_max_diff"] == 0.0
    assert det["settings"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
