import pytest
import torch

from pipeline_lib.device import pick_device, set_threads


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


def test_threads_follow_rule():
    old = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(0)  # never below one
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)
