"""The package layout: a shared core and one package per study; a study imports only
the core, never another study (read from the source's import statements, including
imports inside functions)."""

import ast
from pathlib import Path

import pytest

from pipeline_lib.studies import STUDIES

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "pipeline_lib"
ROLES = ("experiment", "plots", "registry", "claims", "checks")


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from x import y`` also counts
    ``x.y``, which is the module when ``y`` is a submodule)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return out


def _study_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[:2] == ["pipeline_lib", "studies"]:
        return parts[2] if len(parts) > 2 else ""
    return None


def study_violations(root: Path = PKG) -> list[str]:
    """'module -> import' for every import of one study by another (or of the studies'
    aggregator package by a study)."""
    bad = []
    for study in STUDIES:
        for path in sorted((root / "studies" / study).rglob("*.py")):
            for name in sorted(imports(path)):
                other = _study_of(name)
                if other is not None and other != study:
                    bad.append(f"{_module(path)} -> {name}")
    return bad


def test_every_study_has_its_package_and_roles():
    found = sorted(p.name for p in (PKG / "studies").iterdir() if (p / "__init__.py").exists())
    assert found == sorted(STUDIES)
    for study in STUDIES:
        for role in ROLES:
            assert (PKG / "studies" / study / f"{role}.py").exists(), (study, role)


def test_no_study_imports_another():
    assert study_violations() == []


def test_the_import_check_catches_a_study_to_study_import(tmp_path):
    """The check can fail: a copy of the package with one cross-study import."""
    import shutil

    copy = tmp_path / "src" / "pipeline_lib"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    plots = copy / "studies" / "shells" / "plots.py"
    plots.write_text(plots.read_text() + "\n\ndef _f():\n    from ..dmm import experiment\n")
    global SRC
    old, SRC = SRC, tmp_path / "src"
    try:
        assert study_violations(copy) == [
            "pipeline_lib.studies.shells.plots -> pipeline_lib.studies.dmm",
            "pipeline_lib.studies.shells.plots -> pipeline_lib.studies.dmm.experiment",
        ]
    finally:
        SRC = old


@pytest.mark.parametrize("path", sorted(p for p in PKG.glob("*.py")), ids=lambda p: p.name)
def test_core_modules_import_no_single_study(path):
    """Core modules may compose the studies (through the studies package), never reach
    into one."""
    assert not [n for n in imports(path) if _study_of(n) in STUDIES], path.name


@pytest.mark.parametrize("role", ["registry", "claims"])
def test_registries_import_nothing_numerical_when_parsed(role):
    """The Snakefile imports every figure and claims registry at parse time: they stay
    light (numpy, torch, xarray and matplotlib only inside the functions that draw or
    read evidence)."""
    heavy = ("numpy", "torch", "xarray", "matplotlib", "pandas", "seaborn", "zarr", "scipy")
    for study in STUDIES:
        tree = ast.parse((PKG / "studies" / study / f"{role}.py").read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in heavy}, study


def test_cheap_rules_are_local_rules():
    """Figures, summaries, the gallery and the verdicts run on the submitting host under
    a cluster executor: the Snakefile's localrules name exactly those rules."""
    import re

    root = Path(__file__).resolve().parents[1]
    text = (root / "Snakefile").read_text()
    block = re.search(r"^localrules:\n((?:    \w+,\n)+)", text, re.M)
    assert block, "no localrules directive in the Snakefile"
    local = set(re.findall(r"(\w+),", block.group(1)))
    rules = {
        m
        for f in [root / "Snakefile", *sorted((root / "rules").glob("*.smk"))]
        for m in re.findall(r"^rule (\w+):", f.read_text(), re.M)
    }
    cheap = {r for r in rules if r.startswith("figure_") or r.endswith("_summary")}
    assert local == cheap | {"gallery", "claims"}
