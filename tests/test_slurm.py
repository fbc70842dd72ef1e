"""The execution profiles, and profiles/slurm against a real Slurm.

Cheap checks (always run): the slurm and gpu profiles parse with the installed Snakemake
and executor plugin and plan the expected jobs.

The real thing (root with apt-get, or Slurm already installed, as root): install munge,
slurmctld, slurmd and slurm-client from Debian if missing, start a throwaway
single-node cluster from a temporary directory (tests/slurm/harness.py), run a small
part of the workflow through `--profile profiles/slurm` in one copy of the workflow and
locally in another, check the jobs really went through sbatch and compare the Zarr
stores array by array. Every daemon is stopped by PID at the end, also on failure.
Skipped (with the reason) where not root or without apt-get; PIPELINE_SLURM_TEST=0
skips it on purpose (e.g. a root workstation that should not get Slurm packages).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from e2e import copy_workflow
from slurm.harness import SlurmCluster, ensure_slurm_installed

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")
# three cheap jobs: two independent ones, then a training that depends on one of them
STORES = (
    "results/tilting/toy.zarr",
    "results/lowdim/line/data.zarr",
    "results/lowdim/line/clean/seed0/boundary.zarr",
)
FILES = ("results/lowdim/line/clean/seed0/model.pt",)
TARGETS = (*STORES, *FILES)
RULES = {"tilting_toy": 1, "lowdim_dataset": 1, "lowdim_train": 1}
# mem_mb the rules declare; the plugin passes it as sbatch --mem
RULE_MEM = {"tilting_toy": "1000M", "lowdim_dataset": "1000M", "lowdim_train": "2000M"}
SLURM_TIMEOUT = 900


def smk_cmd(*args: str) -> list[str]:
    """A Snakemake command line (targets first: --configfile takes several values)."""
    return [SNAKEMAKE, *args, "--configfile", "config/test.yaml", "--config", "device=cpu"]


def smk_env(env=None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def smk(workdir: Path, *args: str, env=None, timeout=SLURM_TIMEOUT):
    start = time.monotonic()
    res = subprocess.run(
        smk_cmd(*args),
        cwd=workdir,
        env=smk_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    res.seconds = time.monotonic() - start
    return res


def planned_rules(output: str) -> dict[str, int]:
    counts = {}
    for m in re.finditer(r"^(?:local)?rule (\w+):", output, re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


# -- the profiles parse with the installed Snakemake and plugin --------------------------


@pytest.mark.parametrize("profile", ["slurm", "gpu"])
def test_profile_plans_the_jobs(root, tmp_path, profile):
    wd = copy_workflow(root, tmp_path / "wf")
    res = smk(wd, "-n", "--profile", f"profiles/{profile}", *TARGETS, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert f"Using profiles profiles/{profile} and workflow specific profile" in out
    assert planned_rules(res.stdout) == RULES
    # device=cpu: no job asks for a GPU (a node without one rejects --gpus at once)
    assert not re.search(r"resources:.*\bgpu=[1-9]", res.stdout)


def test_profiles_are_documented(root):
    slurm = yaml.safe_load((root / "profiles/slurm/config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert slurm["slurm-status-command"] in ("squeue", "sacct")
    # site placeholders stay comments: a literal "<account>" would be submitted
    text = (root / "profiles/slurm/config.yaml").read_text()
    assert "# slurm_partition:" in text and "# slurm_account:" in text
    assert "slurm_partition" not in slurm["default-resources"]
    gpu = yaml.safe_load((root / "profiles/gpu/config.yaml").read_text())
    assert gpu["resources"] == {"gpu": 1}
    assert "executor" not in gpu


def test_install_skip_reasons(monkeypatch):
    """Without Slurm: not root, or no apt-get, gives a reason to skip (and no apt-get)."""
    from slurm import harness

    monkeypatch.setattr(harness, "missing_binaries", lambda: ["slurmd", "sbatch"])
    monkeypatch.setattr(harness.os, "geteuid", lambda: 1000)
    reason, seconds = harness.ensure_slurm_installed()
    assert "not root" in reason and "slurmd" in reason and seconds == 0
    monkeypatch.setattr(harness.os, "geteuid", lambda: 0)
    monkeypatch.setattr(harness.shutil, "which", lambda name, path=None: None)
    reason, _ = harness.ensure_slurm_installed()
    assert "no apt-get" in reason


# -- a real Slurm ----------------------------------------------------------------------


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="module")
def slurm(request, tmp_path_factory):
    if os.environ.get("PIPELINE_SLURM_TEST", "1") == "0":
        pytest.skip("PIPELINE_SLURM_TEST=0")
    if os.geteuid() != 0:
        pytest.skip("the throwaway Slurm cluster runs munged/slurmctld/slurmd as root")
    reason, apt_seconds = ensure_slurm_installed()
    if reason:
        pytest.skip(reason)
    if threading.current_thread() is threading.main_thread():
        # a SIGTERM (CI timeout, `timeout`, kill) tears down like ^C: daemons stopped
        previous = signal.signal(signal.SIGTERM, _interrupt)
        request.addfinalizer(lambda: signal.signal(signal.SIGTERM, previous))
    cluster = SlurmCluster(Path(tmp_path_factory.mktemp("slurm")))
    request.addfinalizer(cluster.stop)  # before start: a failed start is cleaned too
    start = time.monotonic()
    cluster.start()
    cluster.apt_seconds = apt_seconds
    cluster.start_seconds = time.monotonic() - start
    print(f"\nslurm: apt install {apt_seconds:.1f} s, cluster up in {cluster.start_seconds:.1f} s")
    return cluster


def diagnostics(cluster: SlurmCluster, res, wd: Path) -> str:
    """Snakemake's output, the jobs, Slurm's job logs and the daemons' logs."""
    parts = [f"snakemake exit {getattr(res, 'returncode', None)}"]
    for stream in ("stdout", "stderr"):
        text = getattr(res, stream, "") or ""
        parts.append(text if isinstance(text, str) else text.decode(errors="replace"))
    parts.append(f"squeue: {cluster.jobs()}")
    for f in sorted((wd / ".snakemake" / "slurm_logs").rglob("*.log"))[-3:]:
        parts.append(f"--- {f} ---\n{f.read_text(errors='replace')[-3000:]}")
    return "\n".join([*(p[-5000:] for p in parts), cluster.logs()])


@pytest.fixture(scope="module")
def runs(slurm, root, tmp_path_factory):
    """The same targets through profiles/slurm and locally, in two copies (the local
    reference runs alongside: the Slurm run mostly waits for status polls)."""
    via_slurm = copy_workflow(root, tmp_path_factory.mktemp("via_slurm"))
    local = copy_workflow(root, tmp_path_factory.mktemp("local"))
    ref_log = local / "snakemake.out"
    start = time.monotonic()
    with open(ref_log, "w") as out:
        reference = subprocess.Popen(
            smk_cmd("--cores", "1", *TARGETS),
            cwd=local,
            env=smk_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            res = smk(
                via_slurm,
                "--profile",
                "profiles/slurm",
                *TARGETS,
                # test-only: poll early (the profile's 20 s is for real clusters) and
                # keep Slurm's logs of successful jobs for the assertions
                "--slurm-init-seconds-before-status-checks",
                "2",
                "--slurm-keep-successful-logs",
                env=slurm.env,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(
                f"the Slurm run did not finish in {SLURM_TIMEOUT} s\n"
                f"{diagnostics(slurm, e, via_slurm)}"
            )
        if res.returncode != 0:
            pytest.fail(f"the Slurm run failed\n{diagnostics(slurm, res, via_slurm)}")
        ref_rc = reference.wait(SLURM_TIMEOUT)
        ref_seconds = time.monotonic() - start
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    ref_out = ref_log.read_text()
    assert ref_rc == 0, ref_out[-4000:]
    elapsed = re.search(r"Elapsed time: (\S+)", ref_out)
    print(
        f"\nslurm: workflow via Slurm {res.seconds:.1f} s; local reference (1 core, "
        f"alongside) {elapsed.group(1) if elapsed else '?'}, both done after {ref_seconds:.1f} s"
    )
    return {"slurm": via_slurm, "local": local, "res": res, "jobs": slurm.jobs()}


def test_jobs_went_through_sbatch(runs, slurm):
    out = runs["res"].stdout + runs["res"].stderr
    assert "Using profiles profiles/slurm and workflow specific profile" in out
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert len(submitted) == sum(RULES.values()), out[-4000:]
    jobs = {j["jobid"]: j for j in runs["jobs"]}
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)
    rules_seen = {}
    for jobid in submitted:
        job = jobs[jobid]  # slurmctld still knows it (MinJobAge)
        assert job["state"] == "COMPLETED", job
        assert job["name"] == run_id
        assert job["partition"] == slurm.partition and job["nodes"] == slurm.host
        assert job["gres"] in ("N/A", "(null)", ""), job  # device=cpu: no --gpus
        # Slurm's own log of the job names its rule; its memory is the rule's mem_mb
        logs = list((runs["slurm"] / ".snakemake" / "slurm_logs").rglob(f"{jobid}.log"))
        assert len(logs) == 1, jobid
        rel = logs[0].relative_to(runs["slurm"] / ".snakemake" / "slurm_logs")
        rule = rel.parts[0].removeprefix("rule_")  # rule_<rule>[/<wildcards>]/<jobid>.log
        rules_seen[rule] = rules_seen.get(rule, 0) + 1
        # ...and shows Snakemake running that rule inside the allocation
        text = logs[0].read_text(errors="replace")
        assert "--executor slurm-jobstep" in text and f"rule {rule}:" in text, text[-2000:]
        assert "Finished jobid" in text and "Error in rule" not in text, text[-2000:]
        assert job["min_memory"] == RULE_MEM[rule], (rule, job)
    assert rules_seen == RULES


# provenance that says when and from which checkout a job ran, not what it computed
# (the source tree may get a commit between the two runs)
VOLATILE = {"wall_time_s", "git_commit", "git_describe", "git_diff_sha256"}


def _same_attrs(a: dict, b: dict) -> bool:
    def strip(attrs):
        attrs = dict(attrs)
        if isinstance(attrs.get("provenance"), dict):
            attrs["provenance"] = {
                k: v for k, v in attrs["provenance"].items() if k not in VOLATILE
            }
        return attrs

    return strip(a) == strip(b)


@pytest.mark.parametrize("store", STORES)
def test_slurm_outputs_equal_local(runs, store):
    a = xr.open_zarr(runs["slurm"] / store)
    b = xr.open_zarr(runs["local"] / store)
    assert set(a.data_vars) == set(b.data_vars) and a.data_vars
    assert set(a.coords) == set(b.coords)
    assert dict(a.sizes) == dict(b.sizes)
    for name in [*a.data_vars, *a.coords]:
        va, vb = a[name].values, b[name].values
        assert va.dtype == vb.dtype, name
        assert a[name].dims == b[name].dims, name
        equal_nan = va.dtype.kind in "fc"
        assert np.array_equal(va, vb, equal_nan=equal_nan), f"{store}: {name} differs"
        assert _same_attrs(a[name].attrs, b[name].attrs), name
    assert _same_attrs(a.attrs, b.attrs)


def test_slurm_model_equals_local(runs):
    for f in FILES:
        a = torch.load(runs["slurm"] / f, map_location="cpu", weights_only=True)
        b = torch.load(runs["local"] / f, map_location="cpu", weights_only=True)
        sa = a.get("state_dict", a) if isinstance(a, dict) else a.state_dict()
        sb = b.get("state_dict", b) if isinstance(b, dict) else b.state_dict()
        tensors = {k: v for k, v in sa.items() if torch.is_tensor(v)}
        assert tensors and tensors.keys() == {k for k, v in sb.items() if torch.is_tensor(v)}
        for k, v in tensors.items():
            assert torch.equal(v, sb[k]), f"{f}: {k} differs"
