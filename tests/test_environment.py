"""The locked environment: the locks hold names, versions and hashes only, they satisfy
pyproject.toml, and the installed .venv is exactly the default lock."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"default": ROOT / "requirements/default.lock", "bench": ROOT / "requirements/bench.lock"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)( ; [^\\]+)? \\$")
HASH = re.compile(r"^    --hash=sha256:[0-9a-f]{64}( \\)?$")


def parse_lock(path: Path) -> dict[str, str]:
    """name -> version of every pinned package; fails on anything but pins, hashes,
    comments and the project's own editable line."""
    pins, expect_hash = {}, False
    for i, line in enumerate(path.read_text().splitlines(), 1):
        where = f"{path.name}:{i}: {line!r}"
        if expect_hash:
            assert HASH.match(line), f"expected a hash line at {where}"
            expect_hash = line.endswith("\\")
            continue
        if not line.strip() or line.lstrip().startswith("#") or line == "-e .":
            continue
        m = PIN.match(line)
        assert m, f"not a name==version pin with hashes at {where}"
        pins.setdefault(canonicalize_name(m.group(1)), m.group(2))
        expect_hash = True
    assert not expect_hash, f"{path.name} ends inside a hash list"
    return pins


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_lock_has_pins_and_hashes_only(name):
    text = LOCKS[name].read_text()
    assert "://" not in text and "index-url" not in text and "find-links" not in text
    pins = parse_lock(LOCKS[name])
    assert {"torch", "torchvision", "snakemake", "xarray", "zarr"} <= set(pins)
    assert ("torchattacks" in pins) == (name == "bench")  # benchmark-only reference


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_lock_satisfies_pyproject(name):
    """A dependency range edited in pyproject.toml without `make lock` fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = ["dev", "bench"] if name == "bench" else ["dev"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    pins = parse_lock(LOCKS[name])
    for spec in map(Requirement, reqs):
        version = pins.get(canonicalize_name(spec.name))
        assert version, f"{spec.name} is in pyproject.toml but not in {name}.lock: make lock"
        assert spec.specifier.contains(version, prereleases=True), (
            f"{name}.lock pins {spec.name}=={version}, pyproject.toml asks {spec}: make lock"
        )


def test_python_is_the_pinned_one():
    pinned = (ROOT / ".python-version").read_text().strip()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == pinned


def test_environment_is_exactly_the_lock():
    """What a second `make setup` would do: nothing (uv's dry run of the same sync)."""
    uv = os.environ.get("UV", "python3 -m uv").split()
    res = subprocess.run(
        [*uv, "pip", "sync", "--dry-run", "--python", sys.executable, str(LOCKS["default"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Would make no changes" in out, out


def test_tools_lock_has_pins_and_hashes_only():
    """The separate tools environment (.venv-tools: the CITATION.cff validator)."""
    path = ROOT / "requirements/tools.lock"
    text = path.read_text()
    assert "://" not in text and "index-url" not in text and "-e ." not in text
    pins = parse_lock(path)
    assert pins["cffconvert"] == "2.0.0" and "torch" not in pins


def test_conda_env_is_the_lock():
    """envs/pipeline.yaml (every rule's `conda:`) is what `make lock` generates from the
    default lock: the pinned Python, then every locked package with its hashes, and no
    path (Snakemake copies the file elsewhere). Creating it needs conda and conda-forge,
    which this machine lacks: its content is what is checked here."""
    sys.path.insert(0, str(ROOT / "requirements"))
    from conda_env import conda_env

    text = (ROOT / "envs/pipeline.yaml").read_text()
    pinned = (ROOT / ".python-version").read_text().strip()
    assert text == conda_env(LOCKS["default"].read_text(), pinned), "run make lock"
    env = yaml.safe_load(text)
    deps = env["dependencies"]
    assert deps[:2] == [f"python={pinned}", "pip"]
    reqs = deps[2]["pip"]
    pins = {(canonicalize_name(r.split("==")[0]), r.split("==")[1].split()[0]) for r in reqs}
    locked = {
        (canonicalize_name(m.group(1)), m.group(2))
        for m in map(PIN.match, LOCKS["default"].read_text().splitlines())
        if m
    }
    assert pins == locked and len(reqs) == len(locked)  # every pin, markers kept
    assert all("--hash=sha256:" in r for r in reqs)
    assert "../" not in text and "://" not in text and "-e " not in text
