"""Resumable training (pipeline_lib.resume): every training loop, killed with SIGKILL
right after it saved its state, goes on from that state when run again and ends bitwise
equal to an uninterrupted run; a state saved for other settings is not used; the rule
context keys the state by the job and removes it when the job succeeds."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from snakemake.iocontainers import InputFiles, Log, Params, Wildcards

from pipeline_lib import resume as R
from pipeline_lib.runtime import rule_context

# The child trains loops one after the other (argv: comma-separated loops, state folder,
# output folder, epoch after whose save it kills itself, 0 = never) with one torch
# thread, saving each loop's model and history as <output>/<loop>.pt.
CHILD = r"""
import os, signal, sys
from pathlib import Path
import numpy as np
import torch
import xarray as xr
from pipeline_lib import resume as R

torch.set_num_threads(1)
loops, kill_after = sys.argv[1].split(","), int(sys.argv[4])
state_dir, out_dir = Path(sys.argv[2]), Path(sys.argv[3])
if kill_after:
    _save = R.Resume.save
    def save(self, epoch, epochs, st):
        _save(self, epoch, epochs, st)
        if epoch == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    R.Resume.save = save
for loop in loops:
    res = R.Resume(state_dir / f"{loop}.pt", key="job", every=1, log=print)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(96, 1, 8, 8, generator=gen)
    y = (x.mean((1, 2, 3)) > x.mean()).long()
    torch.manual_seed(1)
    if loop in ("classifier", "autoencoder"):
        from pipeline_lib import training
        from pipeline_lib.models import build_model
        if loop == "classifier":
            model = build_model("mlp_classifier", in_shape=(1, 8, 8), n_classes=2)
            adv = {"norm": "linf", "eps": 0.05, "step_size": 0.02, "steps": 2}
            hist = training.train_classifier(
                model, x, y, epochs=5, lr=0.1, weight_decay=1e-4, batch_size=16, seed=3,
                momentum=0.9, adversarial=adv, resume=res)
        else:
            model = build_model("mlp_autoencoder", in_shape=(1, 8, 8), k=3, hidden=(16,))
            hist = training.train_autoencoder(
                model, x, epochs=5, lr=0.01, batch_size=16, seed=3, resume=res)
    elif loop == "squiggles":
        from pipeline_lib.studies.squiggles import experiment as se
        model, _, _ = se.build_classifier({"arch": "cnn", "width": 4, "blocks": 1}, 8)
        hist = se.train_classifier(
            model, x, y, epochs=5, lr=0.01, batch_size=16, noise_sigma=0.1, seed=3,
            evaluate=lambda m: {"acc": float((m(x).argmax(1) == y).float().mean())},
            log=print, resume=res)
        hist = {k: hist[k].values.tolist() for k in hist.data_vars}
    elif loop == "squiggles_stream":  # the curves generated while training, in a worker
        from pipeline_lib.studies.squiggles import experiment as se
        model, _, _ = se.build_classifier({"arch": "cnn", "width": 4, "blocks": 1}, 12)
        stream = se.CurveStream("sinenet", 0, n=160, resolution=12, chunk=48, workers=1)
        hist = se.train_classifier(
            model, None, None, epochs=5, lr=0.01, batch_size=16, noise_sigma=0.1, seed=3,
            log=print, resume=res, stream=stream)
        hist = {k: hist[k].values.tolist() for k in hist.data_vars}
    elif loop == "lowdim":  # the DMM low-dim network: snapshots before and after the kill
        from pipeline_lib.studies.lowdim import experiment as le
        from pipeline_lib.studies.lowdim.synthetic import make_lowdim_dataset
        data = make_lowdim_dataset("plane", 3, 4, 4, 0.01, 0.1, 5, 0)
        ds, ckpt = le.run_experiment(
            data, variant="adversarial", seed=0, hidden=32, output_weights="sign", epochs=5,
            lr=5e-3, weight_decay=0.01, batch_size=8, adversarial_eps=0.05,
            snapshot_epochs=[0, 1, 4, 5], res=9, normal_steps=21, device=torch.device("cpu"),
            log=print, resume=res)
        model = le.TwoLayerNet(**ckpt["init"])
        model.load_state_dict(ckpt["state_dict"])
        hist = {k: torch.from_numpy(ds[k].values) for k in ds.data_vars}
        hist["snapshots"] = ckpt["snapshots"]
    else:  # the DMM classifiers: noise training (its own per-epoch states and generator);
        # the ablation classifier (states within the first epoch)
        from pipeline_lib.studies.dmm import experiment as de
        n = x.shape[0]
        ds = xr.Dataset(
            {"image": (("sample", "channel", "row", "col"), x.numpy()),
             "label": (("sample",), y.numpy())},
            coords={"sample": np.arange(n),
                    "split": ("sample", np.array(["train"] * 64 + ["test"] * 32)),
                    "channel": [0], "row": np.arange(8), "col": np.arange(8),
                    "class_index": ("class_index", np.array([0, 1]))})
        cfg = {"kind": "mlp", "epochs": 5, "lr": 0.1, "weight_decay": 1e-4, "batch_size": 16,
               "momentum": 0.9}
        if loop == "dmm_noise":
            model, _, _, states, hist = de.fit_classifier(
                ds, cfg, "noise", 3, torch.device("cpu"), noise={"sigma": 0.2}, resume=res)
        else:
            from pipeline_lib.studies.dmm.ablations import fit_classifier_subepoch
            model, _, _, states, _, hist = fit_classifier_subepoch(
                ds, cfg, 3, 2, torch.device("cpu"), resume=res)
        hist = {"states": states, **{k: hist[k].values.tolist() for k in hist.data_vars}}
    res.finish()
    out = {"model": model.state_dict(), "hist": hist, "resumed_from": res.resumed_from}
    torch.save(out, out_dir / f"{loop}.pt")
"""

LOOPS = (
    "classifier",
    "autoencoder",
    "squiggles",
    "squiggles_stream",
    "dmm_noise",
    "dmm_subepoch",
    "lowdim",
)


def child(tmp_path: Path, loops, states: Path, outs: Path, kill_after: int = 0):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    states.mkdir(exist_ok=True)
    outs.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, str(script), ",".join(loops), str(states), str(outs), str(kill_after)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """All loops uninterrupted (one process); each loop killed after the save of epoch 2
    of 5 (one process each); then all resumed (one process)."""
    tmp = tmp_path_factory.mktemp("resume")
    ref = child(tmp, LOOPS, tmp / "ref-states", tmp / "ref")
    assert ref.returncode == 0, ref.stderr[-3000:]
    killed = {loop: child(tmp, [loop], tmp / "states", tmp / "out", kill_after=2) for loop in LOOPS}
    states = {loop: (tmp / "states" / f"{loop}.pt").is_file() for loop in LOOPS}
    outs = {loop: (tmp / "out" / f"{loop}.pt").exists() for loop in LOOPS}
    resumed = child(tmp, LOOPS, tmp / "states", tmp / "out")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return tmp, killed, states, outs, resumed


def assert_bitwise(a, b, where="result"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_bitwise(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_bitwise(u, v, f"{where}[{i}]")
    else:  # floats compared as written: bitwise, NaN equal to NaN
        assert repr(a) == repr(b), f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("loop", LOOPS)
def test_killed_training_resumes_to_the_uninterrupted_result(runs, loop):
    tmp, killed, states, outs, resumed = runs
    assert not list((tmp / "ref-states").iterdir())  # finished: every state removed
    assert killed[loop].returncode == -signal.SIGKILL, killed[loop].stderr[-3000:]
    assert states[loop] and not outs[loop]  # killed after saving, before finishing
    assert not (tmp / "states" / f"{loop}.pt").exists()  # resumed and finished
    a = torch.load(tmp / "ref" / f"{loop}.pt", weights_only=True)
    b = torch.load(tmp / "out" / f"{loop}.pt", weights_only=True)
    assert a["resumed_from"] is None and b["resumed_from"] == 2
    assert "going on after epoch 2" in resumed.stdout
    assert_bitwise(a["model"], b["model"], "model")
    assert_bitwise(a["hist"], b["hist"], "history")


def test_a_state_of_other_settings_is_not_used(tmp_path):
    path = tmp_path / "s.pt"
    logs = []
    R.Resume(path, key="old").save(1, 5, {"model": {}, "epoch": 1})
    r = R.Resume(path, key="new", log=logs.append)
    assert r.load() is None and r.resumed_from is None
    assert not path.exists() and "other settings" in logs[0]
    # an unreadable file: started over, said so
    path.write_bytes(b"not a checkpoint")
    assert R.Resume(path, key="new", log=logs.append).load() is None
    assert not path.exists() and "unreadable" in logs[-1]


def test_saving_follows_every_and_skips_the_last_epoch(tmp_path):
    path = tmp_path / "s.pt"
    r = R.Resume(path, key="k", every=2)
    r.save(1, 5, {})
    assert not path.exists()
    r.save(2, 5, {})
    assert path.exists() and R.Resume(path, key="k").load()["epoch"] == 2
    r.save(4, 4, {})  # the last epoch: the job writes its outputs next
    assert R.Resume(path, key="k").load()["epoch"] == 2
    off = R.Resume(tmp_path / "off.pt", key="k", every=0)
    off.save(2, 5, {})
    assert not (tmp_path / "off.pt").exists() and off.load() is None


def test_job_key_follows_params_wildcards_and_inputs(tmp_path):
    f = tmp_path / "in.zarr"
    f.mkdir()
    (f / "c").write_bytes(b"1")
    base = R.job_key("r", {"params": {"lr": 0.1}, "wildcards": {"seed": "0"}}, [f])
    assert base == R.job_key("r", {"params": {"lr": 0.1}, "wildcards": {"seed": "0"}}, [f])
    assert base != R.job_key("r", {"params": {"lr": 0.2}, "wildcards": {"seed": "0"}}, [f])
    assert base != R.job_key("r", {"params": {"lr": 0.1}, "wildcards": {"seed": "1"}}, [f])
    assert base != R.job_key("q", {"params": {"lr": 0.1}, "wildcards": {"seed": "0"}}, [f])
    (f / "c").write_bytes(b"22")  # an input rewritten
    assert base != R.job_key("r", {"params": {"lr": 0.1}, "wildcards": {"seed": "0"}}, [f])
    p = R.job_path("squiggles_train", {"variant": "sinenet", "sigma": "0.08", "seed": "0"})
    assert p == R.ROOT / "squiggles_train" / "variant-sinenet_sigma-0.08_seed-0.pt"
    assert R.job_path("claims", {}).name == "all.pt"


def _smk(tmp_path, code="digest-a", every=1):
    return SimpleNamespace(
        rule="unit_train",
        threads=1,
        params=Params(fromdict={"cfg": {"epochs": 3}, "code": code}),
        wildcards=Wildcards(fromdict={"seed": "0"}),
        input=InputFiles(fromdict={"data": str(tmp_path / "data.txt")}),
        log=Log(fromdict={"log": str(tmp_path / "rule.log")}),
        config={"checkpoint_every": every},
    )


def test_rule_context_keys_the_state_by_job_and_removes_it_on_success(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(RuntimeError), rule_context(_smk(tmp_path)) as log:
        r = log.resume()
        r.save(1, 3, {"model": {}})
        raise RuntimeError("killed")
    assert r.path.is_file()  # a failed job keeps its state
    with rule_context(_smk(tmp_path)) as log:
        assert log.resume().load()["epoch"] == 1
    assert not r.path.exists()  # done: removed
    # another code digest (a library change): the saved state is not used
    with pytest.raises(RuntimeError), rule_context(_smk(tmp_path)) as log:
        log.resume().save(1, 3, {})
        raise RuntimeError("killed")
    with rule_context(_smk(tmp_path, code="digest-b")) as log:
        assert log.resume().load() is None
    with rule_context(_smk(tmp_path, every=0)) as log:
        assert log.resume().every == 0


def test_lowdim_saves_at_most_twenty_states(tmp_path):
    """Hundreds of millisecond epochs: the low-dim loop saves every twentieth of the run."""
    from pipeline_lib.studies.lowdim import experiment as le

    saved = []
    r = R.Resume(tmp_path / "s.pt", key="k", every=1, log=lambda *_: None)
    r.save = lambda epoch, epochs, state: saved.append(epoch) if r.due(epoch, epochs) else None
    net = le.TwoLayerNet(2, 8, seed=0)
    x, y = torch.rand(16, 2), (torch.rand(16) > 0.5).long()
    le.train(net, x, y, epochs=40, lr=1e-3, weight_decay=0.0, batch_size=8, seed=0, resume=r)
    assert saved == list(range(2, 40, 2))
    off = R.Resume(tmp_path / "t.pt", key="k", every=0, log=lambda *_: None)
    off.at_most(20, 200)
    assert off.every == 0  # saving off stays off
