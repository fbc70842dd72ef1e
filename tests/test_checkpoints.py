"""Checkpoints hold tensors and plain data only and load with weights_only=True: a
crafted checkpoint whose unpickling would run code is refused, and the code never runs."""

import os
import pickle
from collections import OrderedDict

import pytest
import torch

from pipeline_lib import checkpoints
from pipeline_lib.models import build_model, load_model, save_model
from pipeline_lib.studies.dmm.experiment import load_checkpoint, save_checkpoints


class RunsCode:
    """Unpickling this runs a shell command (creates a marker file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_checkpoint_is_refused_and_its_code_does_not_run(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    torch.save({"kind": "mlp_classifier", "state_dict": {}, "payload": RunsCode(marker)}, path)
    for loader in (checkpoints.load, load_model, lambda p: load_checkpoint(p, 0)):
        with pytest.raises(checkpoints.CheckpointError) as err:
            loader(path)
        msg = str(err.value)
        assert str(path) in msg and "arbitrary code" in msg and "system" in msg, msg
    assert not marker.exists()
    pickle.loads(pickle.dumps(RunsCode(marker)))  # the payload is live: plain pickle runs it
    assert marker.exists()


def test_save_refuses_anything_but_plain_data(tmp_path):
    with pytest.raises(TypeError, match=r"\['extra'\]\[1\] is a builtins.set"):
        checkpoints.save({"extra": [1, {2}]}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="numpy"):
        checkpoints.save({"a": torch.zeros(2).numpy()}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "x.pt.tmp").exists()


def test_plain_checkpoint_round_trips(tmp_path):
    obj = {
        "state": OrderedDict(w=torch.arange(3.0)),
        "meta": {"k": [1, 2.5, "s", None, True, (1, 2)]},
        0: torch.ones(1),
    }
    out = checkpoints.load(checkpoints.save(obj, tmp_path / "c.pt"))
    assert torch.equal(out["state"]["w"], obj["state"]["w"]) and out["meta"] == obj["meta"]
    assert torch.equal(out[0], obj[0])


def test_library_checkpoints_load_weights_only(tmp_path):
    """Both writers of the library produce files torch reads with weights_only=True."""
    kwargs = {"in_shape": [1, 28, 28], "hidden": [8], "n_classes": 10, "dropout": 0.0}
    model = build_model("mlp_classifier", **kwargs)
    save_model(model, tmp_path / "m.pt", "mlp_classifier", kwargs, provenance={"config": {"a": 1}})
    save_checkpoints(tmp_path / "c.pt", "mlp_classifier", kwargs, [model.state_dict()] * 2)
    for f in ("m.pt", "c.pt"):
        assert isinstance(torch.load(tmp_path / f, weights_only=True), dict)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "m.pt")(x), model.eval()(x))
        assert torch.equal(load_checkpoint(tmp_path / "c.pt", 1)(x), model(x))
