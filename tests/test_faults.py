"""Faults: killed jobs and damaged intermediate stores.

Unit tests of ``pipeline_lib.zarr_io`` (a missing or corrupt chunk file is refused with
a message naming the store and variable; a killed write leaves no store), then
workflow tests on config/test.yaml in temporary directories:

* the whole Snakemake process group is killed with SIGKILL (a crashed node: Snakemake
  cannot clean up) during training, during an attack and while Zarr stores are being
  written; no output is left looking complete, Snakemake plans the jobs again (a job
  killed after its checkpoint was saved is reported incomplete), a training killed
  after it saved its state goes on from there, and the rerun gives outputs bitwise
  equal to an uninterrupted run;
* only the job's script process is killed: Snakemake reports the failed job;
* a deleted and a corrupted chunk file of an input store make the consuming jobs fail
  with a message naming the store, and no output (figure) appears.

The runs use config/test.yaml with sinenet as the analysed Squiggles variant. The kills
are deterministic: a ``sitecustomize`` module (on PYTHONPATH of the killed
runs only) makes the chosen job's script block at the chosen point and write a
marker file; the test kills when the marker appears.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr
import yaml
from e2e import assert_same_model, assert_same_store, copy_workflow

from pipeline_lib import locks
from pipeline_lib.zarr_io import ALL_CHUNKS_ATTR, StoreError, open_store, var, write_store

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CONFIG = ("--configfile", "config/test.yaml")
TIMEOUT = 300

SQ = "results/squiggles"
DATA = [f"{SQ}/data/{n}.zarr" for n in ("sinenet-train", "sinenet-test")]
MODEL0 = f"{SQ}/sinenet/sigma0/seed0/model.pt"
MODEL = f"{SQ}/sinenet/sigma0.08/seed0/model.pt"  # squiggles_train: a training loop
TRAINING = f"{SQ}/sinenet/sigma0.08/seed0/training.zarr"  # written after MODEL
LATENT = f"{SQ}/sinenet/seed0/latent.zarr"  # squiggles_latent: PGD in latent space
FIGURE = "results/figures/squiggles_sinenet_latent.png"  # figure_squiggles, from LATENT
TRAIN_LOG = "logs/squiggles_train/sinenet-sigma0.08-seed0.log"
LATENT_LOG = "logs/squiggles_latent/sinenet-seed0.log"

# Loaded as sitecustomize by every Python process of a run started with PYTHONPATH set
# to its folder; it acts only in the job process whose script (Snakemake runs
# .snakemake/scripts/tmpXXXX.<script>.py) is named in FAULT_HANG="<script>:<point>,...".
HOOK = """
import os
import sys
import time
from pathlib import Path

_script = Path(sys.argv[0]).name.split(".")[-2] if sys.argv[0].endswith(".py") else ""


def _hang(point):
    marker = Path(os.environ["FAULT_DIR"], f"{_script}.{point}")
    marker.write_text(str(os.getpid()))
    time.sleep(600)  # until the test kills us


def _train():  # inside the training loop: at the 3rd backward pass
    import torch

    orig, calls = torch.Tensor.backward, [0]

    def backward(self, *a, **k):
        calls[0] += 1
        if calls[0] == 3:
            _hang("train")
        return orig(self, *a, **k)

    torch.Tensor.backward = backward


def _attack():  # inside PGD: at the 2nd gradient of the attack loss
    import torch

    orig, calls = torch.autograd.grad, [0]

    def grad(*a, **k):
        calls[0] += 1
        if calls[0] == 2:
            _hang("attack")
        return orig(*a, **k)

    torch.autograd.grad = grad


def _resume():  # a training loop: right after it saved its state for the first time
    from pipeline_lib import resume

    orig = resume.Resume.save

    def save(self, *a, **k):
        orig(self, *a, **k)
        if self.path.is_file():
            _hang("resume")

    resume.Resume.save = save


def _store():  # writing a store: before its first chunk file lands in <path>.tmp-*
    from zarr.storage import LocalStore

    orig = LocalStore.set

    async def set(self, key, value, *a, **k):
        if ".tmp-" in str(self.root) and not key.endswith("zarr.json"):
            _hang("store")
        return await orig(self, key, value, *a, **k)

    LocalStore.set = set


for _item in filter(None, os.environ.get("FAULT_HANG", "").split(",")):
    _name, _point = _item.split(":")
    if _name == _script:
        {"train": _train, "attack": _attack, "store": _store, "resume": _resume}[_point]()
"""


# ---------------------------------------------------------------- helpers


def _ds():
    return xr.Dataset(
        {
            "x": var(np.arange(24.0).reshape(8, 3), ("sample", "feature"), "a value"),
            "label": var(np.zeros(8, np.int64), ("sample",), "all zero: the fill value"),
            "flag": var(np.zeros(8, bool), ("sample",), "all False: the fill value"),
            "gap": var(np.full(8, np.nan), ("sample",), "all NaN: the fill value"),
        },
        coords={"sample": np.arange(8), "feature": ["a", "b", "c"]},
    )


def chunk_files(store: Path, variable: str) -> list[Path]:
    return sorted(f for f in (store / variable).rglob("*") if f.is_file() and f.name != "zarr.json")


def leftovers(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.tmp-*")) + sorted(
        path.parent.glob(f"{path.name}.old-*")
    )


def smk(wd: Path, *args: str, check=True):
    res = subprocess.run(
        [SNAKEMAKE, *args, *CONFIG], cwd=wd, capture_output=True, text=True, timeout=TIMEOUT
    )
    out = res.stdout + res.stderr
    if check and res.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{out[-6000:]}")
    return res.returncode, out


class Run:
    """A Snakemake run in its own session (process group), output to a file, with
    fault points armed by FAULT_HANG."""

    def __init__(self, wd: Path, hook: Path, hang: str, *args: str):
        self.wd, self.faults = wd, wd / "faults"
        shutil.rmtree(self.faults, ignore_errors=True)
        self.faults.mkdir()
        self.out = self.faults / "snakemake.out"
        env = dict(os.environ, FAULT_HANG=hang, FAULT_DIR=str(self.faults))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(
                [SNAKEMAKE, "--cores", "2", *args, *CONFIG],
                cwd=wd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.out.read_text()

    def wait_for(self, what: str, ready, timeout=TIMEOUT):
        t0 = time.monotonic()
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"snakemake ended before {what}:\n{self.output()[-6000:]}")
            if time.monotonic() - t0 > timeout:
                pytest.fail(f"timed out waiting for {what}:\n{self.output()[-6000:]}")
            time.sleep(0.05)

    def wait_hang(self, *markers: str) -> dict[str, int]:
        """Wait until the jobs block at their fault points; their process ids."""
        paths = [self.faults / m for m in markers]
        ready = lambda: all(p.exists() and p.read_text().strip() for p in paths)  # noqa: E731
        self.wait_for(f"fault points {markers}", ready)
        return {m: int(p.read_text()) for m, p in zip(markers, paths, strict=True)}

    def job_processes(self, script: str) -> list[int]:
        """Process ids of the running jobs of ``script`` (the rule's script name)."""
        found = []
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if p.cmdline()[-1:] and p.cmdline()[-1].endswith(f".{script}.py"):
                    found.append(p.pid)
            except psutil.Error:  # ended meanwhile
                pass
        return found

    def crash(self, pids):
        """SIGKILL to Snakemake and its jobs at once, as when the node dies."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=60) == -signal.SIGKILL
        for pid in pids:  # the jobs were in Snakemake's process group: gone too
            t0 = time.monotonic()
            while psutil.pid_exists(pid):
                try:
                    if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                        break
                except psutil.NoSuchProcess:
                    break
                assert time.monotonic() - t0 < 30, f"job process {pid} survived the crash"
                time.sleep(0.05)

    def kill_group(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)


@contextmanager
def snakemake_run(*args):
    run = Run(*args)
    try:
        yield run
    finally:
        run.kill_group()


@contextmanager
def same_mtime(path: Path):
    st = path.stat()
    yield path
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_sinenet_workflow(root: Path, wd: Path) -> Path:
    copy_workflow(root, wd)
    # sinenet analysed (its figures are declared: the latent figure is a target here),
    # taylor only as the other test set squiggles_train evaluates on
    cfg = wd / "config" / "test.yaml"
    c = yaml.safe_load(cfg.read_text())
    c["squiggles"].update(variants=["taylor", "sinenet"], analysis_variants=["sinenet"])
    # two epochs: a training killed after its first can resume from its saved state
    c["squiggles"]["classifier"]["epochs"] = 2
    cfg.write_text(yaml.safe_dump(c))
    return wd


# ---------------------------------------------------------------- zarr_io units


def test_missing_chunk_file_is_refused(tmp_path):
    """Zarr would read a deleted chunk as the fill value; open_store refuses the store
    (also lazily opened), naming the store, the variable and the fix."""
    for name in ("x", "label", "sample"):
        p = write_store(_ds(), tmp_path / f"{name}.zarr", "d", {})
        files = chunk_files(p, name)
        assert files, f"write_store wrote no chunk of {name}"
        files[0].unlink()
        for load in (True, False):
            with pytest.raises(StoreError) as err:
                open_store(p, load=load)
            msg = str(err.value)
            assert str(p) in msg and f"'{name}'" in msg and "missing" in msg, msg
            assert "delete it and rerun the rule that produces it" in msg


def test_corrupt_chunk_file_names_the_variable(tmp_path):
    p = write_store(_ds(), tmp_path / "s.zarr", "d", {})
    chunk_files(p, "x")[0].write_bytes(b"\x00garbage" * 8)
    with pytest.raises(StoreError) as err:
        open_store(p)
    msg = str(err.value)
    assert str(p) in msg and "'x'" in msg and "corrupt chunk" in msg, msg
    assert "delete it and rerun" in msg
    assert isinstance(err.value.__cause__, Exception)


def test_fill_value_chunks_are_written(tmp_path):
    """Variables holding only the fill value (0, False, NaN) still get chunk files, so
    a missing file always means damage; such stores round-trip."""
    p = write_store(_ds(), tmp_path / "s.zarr", "d", {})
    for name in ("x", "label", "flag", "gap", "sample", "feature"):
        assert chunk_files(p, name), name
    ds = open_store(p)
    assert ds.attrs[ALL_CHUNKS_ATTR] is True
    for name in _ds().variables:
        np.testing.assert_array_equal(ds[name].values, _ds()[name].values)


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_store_without_marker_is_not_checked_for_chunks(tmp_path):
    """Stores written before write_store wrote every chunk may lack fill-value chunks
    legitimately: they still open."""
    ds = _ds().assign_coords(feature=np.array(["a", "b", "c"], dtype=object))
    ds.attrs = {"description": "old", "provenance": {}}
    ds.to_zarr(tmp_path / "old.zarr", consolidated=True)
    assert not chunk_files(tmp_path / "old.zarr", "label")
    np.testing.assert_array_equal(open_store(tmp_path / "old.zarr")["label"].values, 0)


def test_interrupted_replace_leaves_no_half_store(tmp_path, monkeypatch):
    """Replacing a store renames the old one aside first: a crash between the renames
    leaves no store (never a half-deleted one); the next write removes leftovers."""
    p = write_store(_ds(), tmp_path / "s.zarr", "first", {})
    real = os.replace

    def crash(src, dst):
        if Path(src).name.startswith("s.zarr.tmp-"):
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_store(_ds() * 2, p, "second", {})
    monkeypatch.setattr(os, "replace", real)
    with pytest.raises(StoreError, match="does not exist"):
        open_store(p)
    assert [f.name.split("-")[0] for f in leftovers(p)] == ["s.zarr.old"]
    write_store(_ds() * 2, p, "third", {})
    assert open_store(p).attrs["description"] == "third"
    assert leftovers(p) == []


def test_write_killed_mid_store_leaves_no_store(tmp_path):
    """SIGKILL while the chunks are written: nothing at the final path, the temporary
    store is refused by open_store, and the next write cleans it up."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    target = tmp_path / "s.zarr"
    script = tmp_path / "writer.py"
    script.write_text(
        "import numpy as np, xarray as xr\n"
        "from pipeline_lib.zarr_io import var, write_store\n"
        "x = var(np.arange(24.0).reshape(8, 3), ('sample', 'feature'), 'a value')\n"
        f"write_store(xr.Dataset({{'x': x}}), {str(target)!r}, 'd', {{}})\n"
    )
    env = dict(os.environ, FAULT_HANG="writer:store", FAULT_DIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True)
    try:
        t0 = time.monotonic()
        while not (tmp_path / "writer.store").exists():
            assert proc.poll() is None, "the writer ended before its fault point"
            assert time.monotonic() - t0 < 120, "timed out"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not target.exists()
    (tmp,) = leftovers(target)
    assert (tmp / "zarr.json").exists()  # metadata written, chunks not
    with pytest.raises(StoreError, match="chunk files missing"):
        open_store(tmp)
    write_store(_ds(), target, "d", {})
    assert leftovers(target) == []
    np.testing.assert_array_equal(open_store(target)["x"].values, _ds()["x"].values)


# ---------------------------------------------------------------- workflow


@pytest.fixture(scope="module")
def hook(tmp_path_factory):
    d = tmp_path_factory.mktemp("hook")
    (d / "sitecustomize.py").write_text(HOOK)
    return d


@pytest.fixture(scope="module")
def reference(tmp_path_factory, root):
    """One uninterrupted run: the Squiggles data, both sinenet classifiers (sigma 0 and
    0.08) and the latent attack on the sigma-0 one."""
    wd = copy_sinenet_workflow(root, tmp_path_factory.mktemp("reference") / "wf")
    smk(wd, "--cores", "2", MODEL, LATENT)
    return wd


def fresh_copy(reference: Path, wd: Path, remove=()) -> Path:
    shutil.copytree(reference, wd, symlinks=True)
    for rel in remove:
        p = wd / rel
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return wd


def planned(out: str, rule: str) -> str:
    """The reason Snakemake gives for a job of ``rule`` it plans to run."""
    blocks = [b for b in out.split("\n\n") if f"rule {rule}:" in b and "reason:" in b]
    assert blocks, f"snakemake did not plan {rule}:\n{out[-4000:]}"
    return blocks[0].split("reason:", 1)[1].splitlines()[0]


@pytest.mark.slow
def test_killed_jobs_rerun_to_identical_outputs(reference, hook, tmp_path):
    """Two crashed runs, then a rerun; squiggles_train (sigma 0.08) and squiggles_latent
    run side by side (both only need what the reference copy has)."""
    wd = fresh_copy(reference, tmp_path / "wf", remove=(MODEL, TRAINING, LATENT))
    targets = (MODEL, LATENT)

    # 1. the attack's script process alone is killed: Snakemake reports the failed job
    #    (--keep-going: it goes on waiting for the training); then the node crashes
    #    during the training
    hang = "squiggles_train:train,squiggles_latent:attack"
    with snakemake_run(wd, hook, hang, "--keep-going", *targets) as r:
        pids = r.wait_hang("squiggles_train.train", "squiggles_latent.attack")
        scripts = r.job_processes("squiggles_latent")
        assert scripts == [pids["squiggles_latent.attack"]]
        os.kill(scripts[0], signal.SIGKILL)
        r.wait_for("the failure report", lambda: "Error in rule squiggles_latent" in r.output())
        assert LATENT_LOG in r.output()
        r.crash([pids["squiggles_train.train"]])
    for rel in (MODEL, TRAINING, LATENT):
        assert not (wd / rel).exists(), rel
        assert leftovers(wd / rel) == [], rel
    # a crashed Snakemake leaves its lock: `make figures` would say so (stale: no
    # Snakemake runs there); unlock as a user would (`make unlock`)
    assert any((wd / ".snakemake" / "locks").iterdir())
    assert locks.stale_lock(wd)
    smk(wd, "--unlock")
    assert not locks.stale_lock(wd)

    # 1b. the node crashes right after the training saved its state (epoch 1 of 2): the
    #     state stays for the rerun, under .snakemake/resume/
    with snakemake_run(wd, hook, "squiggles_train:resume", MODEL) as r:
        r.crash(r.wait_hang("squiggles_train.resume").values())
    (state,) = (wd / ".snakemake" / "resume" / "squiggles_train").glob("*.pt")
    assert not (wd / MODEL).exists()
    smk(wd, "--unlock")

    # 2. the node crashes during the attack and while the training job writes its store
    #    (its checkpoint is already saved); the training went on from its saved state
    hang = "squiggles_train:store,squiggles_latent:attack"
    with snakemake_run(wd, hook, hang, *targets) as r:
        pids = r.wait_hang("squiggles_train.store", "squiggles_latent.attack")
        r.crash(pids.values())
        out = r.output()
    # after crash 1 both jobs were planned again
    assert "Missing output files" in planned(out, "squiggles_train")
    assert "Missing output files" in planned(out, "squiggles_latent")
    assert (wd / MODEL).exists() and not (wd / LATENT).exists()
    with pytest.raises(StoreError, match="does not exist"):
        open_store(wd / TRAINING)
    (tmp,) = leftovers(wd / TRAINING)  # the half-written store: refused too
    with pytest.raises(StoreError, match="chunk files missing"):
        open_store(tmp)
    # Snakemake knows the job is incomplete although its checkpoint exists: without the
    # profile's rerun-incomplete it refuses to go on
    code, out = smk(wd, "-n", "--workflow-profile", "none", *targets, check=False)
    assert code != 0 and "IncompleteFilesException" in out, out[-4000:]
    assert MODEL in out.split("Incomplete files:")[1], out[-4000:]
    smk(wd, "--unlock")
    assert "going on after epoch 1" in (wd / TRAIN_LOG).read_text()
    assert state.is_file()  # the job did not succeed: its state is kept

    # 3. the rerun (the profile sets rerun-incomplete) completes; outputs bitwise equal
    _, out = smk(wd, "--cores", "2", *targets)
    assert "Forced execution" in planned(out, "squiggles_train")  # as incomplete
    assert "going on after epoch 1" in (wd / TRAIN_LOG).read_text()
    assert not state.exists()  # the job succeeded: its state removed
    assert_same_model(wd / MODEL, reference / MODEL)
    assert_same_store(wd / TRAINING, reference / TRAINING)
    assert_same_store(wd / LATENT, reference / LATENT)
    for rel in (TRAINING, LATENT):
        assert leftovers(wd / rel) == [], rel  # the rerun removed the half-written store
    assert_same_model(wd / MODEL0, reference / MODEL0)  # untouched throughout


@pytest.mark.slow
def test_damaged_input_store_fails_the_consumer(reference, tmp_path):
    """A deleted chunk (the attack results, read by a figure) and a garbage chunk (a
    test set, read by training): both consuming jobs fail with the store named, and
    neither the figure nor the checkpoint appears."""
    wd = fresh_copy(reference, tmp_path / "wf")
    # silent damage: the modification times stay as they were
    deleted = chunk_files(wd / LATENT, "pred_adv")[0]
    with same_mtime(deleted.parent):
        deleted.unlink()  # Zarr alone would read zeros: a wrong figure
    with same_mtime(chunk_files(wd / DATA[1], "image")[0]) as f:
        f.write_bytes(b"\x00garbage" * 64)
    code, out = smk(
        wd, "--cores", "2", "--keep-going", FIGURE, MODEL, "--forcerun", FIGURE, MODEL, check=False
    )
    assert code != 0
    assert "Error in rule figure_squiggles" in out and "Error in rule squiggles_train" in out
    fig_log = (wd / "logs/figures/squiggles_sinenet_latent.log").read_text()
    train_log = (wd / TRAIN_LOG).read_text()
    for log, store, variable, what in (
        (fig_log, LATENT, "pred_adv", "chunk files missing"),
        (train_log, DATA[1], "image", "corrupt chunk file"),
    ):
        assert "StoreError" in log
        line = next(ln for ln in log.splitlines() if "StoreError:" in ln)
        assert store in line and f"'{variable}'" in line and what in line, line
        assert "delete it and rerun the rule that produces it" in line
        assert line.split("StoreError: ", 1)[1] in out  # shown by Snakemake too
    assert not (wd / FIGURE).exists()
    assert not (wd / MODEL).exists() and not (wd / TRAINING).exists()
