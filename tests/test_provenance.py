"""Provenance that identifies a run: git describe (+ the diff's digest when dirty), the
lock's and the environment's digests, the rule's code digest, CUDA settings on a GPU."""

import hashlib
import subprocess
from pathlib import Path

import torch

from pipeline_lib import provenance
from pipeline_lib.provenance import cuda_state, environment_digests, git_state, make_provenance

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]


def test_git_state_clean_and_dirty(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run([*GIT, *cmd], cwd=tmp_path, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.strip()
    assert git_state(tmp_path) == {"git_describe": head}
    (tmp_path / "a.py").write_text("x = 2\n")
    state = git_state(tmp_path)
    diff = subprocess.run(["git", *provenance._DIFF], cwd=tmp_path, capture_output=True).stdout
    assert state["git_describe"] == f"{head}-dirty"
    assert state["git_diff_sha256"] == hashlib.sha256(diff).hexdigest()
    (tmp_path / "a.py").write_text("x = 3\n")
    assert git_state(tmp_path)["git_diff_sha256"] != state["git_diff_sha256"]
    assert git_state(tmp_path.parent / "not-a-repo-dir-xyz") == {"git_describe": "unknown"}


def test_lock_and_environment_digests():
    d = environment_digests()
    lock = (ROOT / "requirements" / "default.lock").read_bytes()
    assert d["lock_sha256"] == hashlib.sha256(lock).hexdigest()
    assert len(d["environment_sha256"]) == 64


def test_make_provenance_records_code_digest(monkeypatch):
    monkeypatch.setattr(provenance, "CODE_DIGEST", "0123456789abcdef")
    rec = make_provenance({"a": 1}, device="cpu")
    assert rec["code_digest"] == "0123456789abcdef" and "cuda" not in rec
    for key in ("lock_sha256", "environment_sha256", "git_describe", "git_commit", "packages"):
        assert rec[key], key


def test_cuda_state_on_a_gpu(monkeypatch):
    """On CUDA the record names versions, the GPU and the determinism/TF32 settings
    (faked here: this machine has no GPU)."""
    assert cuda_state("cpu") == {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91000)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    rec = make_provenance({}, device="cuda:1")["cuda"]
    assert rec["gpu_name"] == "Fake GPU 1" and rec["cudnn_version"] == 91000
    assert rec["cudnn_deterministic"] is True and rec["cuda_version"] == torch.version.cuda
    for key in ("cudnn_benchmark", "matmul_allow_tf32", "cudnn_allow_tf32"):
        assert isinstance(rec[key], bool), key
    assert rec["float32_matmul_precision"] in ("highest", "high", "medium")
    assert cuda_state("cuda")["cuda"]["gpu_name"] == "Fake GPU 0"


def test_git_state_sees_untracked_code_and_ignores_git_settings(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("results/\n")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run([*GIT, *cmd], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "out.py").write_text("ignored = 1\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    assert "git_diff_sha256" not in git_state(tmp_path)  # ignored or not code: clean
    (tmp_path / "new_module.py").write_text("y = 2\n")
    state = git_state(tmp_path)
    assert state["git_untracked_code_files"] == 1 and len(state["git_diff_sha256"]) == 64
    (tmp_path / "new_module.py").write_text("y = 3\n")
    assert git_state(tmp_path)["git_diff_sha256"] != state["git_diff_sha256"]
    # a tracked change: the digest does not depend on the user's diff settings
    (tmp_path / "a.py").write_text("x = 2\n")
    plain = git_state(tmp_path)["git_diff_sha256"]
    for key, value in (("diff.noprefix", "true"), ("core.abbrev", "12")):
        subprocess.run(["git", "config", key, value], cwd=tmp_path, check=True)
        assert git_state(tmp_path)["git_diff_sha256"] == plain, key
