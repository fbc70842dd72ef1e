import os
import subprocess
import sys

import pytest
import torch

from pipeline_lib.device import THREAD_VARS, pick_device, set_threads


def test_pick_device(monkeypatch):
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA device"):
        pick_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        pick_device("tpu")


def test_threads_follow_rule(monkeypatch):
    for var in THREAD_VARS:  # set_threads writes them: restored after the test
        monkeypatch.delenv(var, raising=False)
    old = torch.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert set_threads(0) == 1  # never below one
        assert torch.get_num_threads() == 1
        assert all(os.environ[v] == "1" for v in THREAD_VARS)
    finally:
        torch.set_num_threads(old)


def test_a_job_without_torch_does_not_load_it_and_torch_loaded_later_follows():
    """A figure job's rule context sets the threads without importing torch (~2 s a job);
    torch loaded afterwards in that job takes the thread count from the environment."""
    code = (
        "import sys; from pipeline_lib.device import set_threads; "
        "n = set_threads(1); assert 'torch' not in sys.modules, 'torch loaded'; "
        "import torch; print(n, torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["1", "1"]


def test_gpu_count_reads_the_driver_listing(tmp_path):
    from pipeline_lib.device import gpu_count

    assert gpu_count(tmp_path / "missing") == 0
    for i in range(3):
        (tmp_path / f"0000:0{i}:00.0").mkdir()
    assert gpu_count(tmp_path) == 3


def test_gpu_slots_are_exclusive_between_jobs_and_freed_with_them(tmp_path):
    import subprocess
    import sys

    from pipeline_lib.device import claim_gpu_slot, release_gpu_slots

    try:
        assert claim_gpu_slot(2, tmp_path) == 0
        assert claim_gpu_slot(2, tmp_path) == 1  # a second job: the other GPU
        assert claim_gpu_slot(2, tmp_path) is None  # all taken
        release_gpu_slots()
        # another process holds slot 0 while it lives; its death frees it
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; from pipeline_lib.device import claim_gpu_slot; "
                f"print(claim_gpu_slot(2, {str(tmp_path)!r}), flush=True); time.sleep(60)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout.readline().strip() == "0"
        assert claim_gpu_slot(2, tmp_path) == 1
        release_gpu_slots()
        holder.kill()
        holder.wait()
        assert claim_gpu_slot(2, tmp_path) == 0
    finally:
        release_gpu_slots()


def test_assign_gpu_sets_the_visible_device_only_where_it_should(tmp_path):
    from pipeline_lib.device import assign_gpu, release_gpu_slots

    try:
        env: dict = {}
        assert assign_gpu(True, tmp_path, n_gpus=2, environ=env) == 0
        assert env == {"CUDA_VISIBLE_DEVICES": "0"}
        env2: dict = {}
        assert assign_gpu(True, tmp_path, n_gpus=2, environ=env2) == 1
        assert env2["CUDA_VISIBLE_DEVICES"] == "1"
        release_gpu_slots()
        for wants, n, preset in ((False, 2, None), (True, 1, None), (True, 4, "3")):
            env = {} if preset is None else {"CUDA_VISIBLE_DEVICES": preset}
            assert assign_gpu(wants, tmp_path, n_gpus=n, environ=env) is None
            assert env.get("CUDA_VISIBLE_DEVICES") == preset
    finally:
        release_gpu_slots()
