"""Code digests for code-aware reruns: what enters them, what does not, and the import
closure they are computed over."""

import json
import modulefinder
import shutil
from pathlib import Path

import pytest

from pipeline_lib.codedigest import imported_modules, script_digest, source_digest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


@pytest.fixture
def tree(tmp_path):
    """A copy of the library and the scripts to edit."""
    shutil.copytree(ROOT / "src" / "pipeline_lib", tmp_path / "src" / "pipeline_lib")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    return tmp_path


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_closure_matches_the_standard_library_module_finder():
    """The AST walk finds what Python's ModuleFinder (bytecode imports) finds, for every
    script of the workflow."""
    for script in SCRIPTS:
        finder = modulefinder.ModuleFinder(path=[str(ROOT / "src")])
        finder.run_script(str(script))
        found = sorted(m for m in finder.modules if m.startswith("pipeline_lib"))
        assert imported_modules(script) == found, script.name


def test_comments_docstrings_and_formatting_do_not_change_the_digest(tree):
    path = tree / "src/pipeline_lib/attacks.py"
    before = source_digest(path)
    _rewrite(path, '"""Projected gradient ascent', '"""Reworded: projected gradient ascent')
    _rewrite(path, "    x0 = x.detach()\n", "    # a comment\n\n    x0 = x.detach()  # here\n")
    _rewrite(path, 'raise ValueError(f"steps', 'raise ValueError(\n            f"steps')
    assert source_digest(path) == before
    _rewrite(path, "    x0 = x.detach()  # here\n", "    x0 = x.detach()  # here\n    x0 = x0\n")
    assert source_digest(path) != before  # ...while a statement does


def test_a_code_change_reruns_exactly_the_scripts_that_import_it(tree):
    src = tree / "src"
    before = {s.name: script_digest(s, src) for s in (tree / "scripts").glob("*.py")}
    _rewrite(src / "pipeline_lib/attacks.py", "    x0 = x.detach()\n", "    x0 = x.detach() * 1\n")
    after = {s.name: script_digest(s, src) for s in (tree / "scripts").glob("*.py")}
    changed = {n for n in before if before[n] != after[n]}
    importers = {s.name for s in SCRIPTS if "pipeline_lib.attacks" in imported_modules(s)}
    assert changed == importers
    assert "dmm_attacks.py" in changed and "lowdim_dataset.py" not in changed
    assert "natural_dataset.py" not in changed and "figure_tilting.py" not in changed


def test_the_script_itself_and_relative_imports_enter_the_digest(tree):
    src, script = tree / "src", tree / "scripts" / "natural_dataset.py"
    d0 = script_digest(script, src)
    _rewrite(script, "smk = snakemake", "smk = snakemake  # noqa\nunused = 1\nsmk = snakemake")
    d1 = script_digest(script, src)
    assert d1 != d0
    # a module reached only through "from . import x" inside the package
    (src / "pipeline_lib/extra_dep.py").write_text("VALUE = 1\n")
    _rewrite(
        src / "pipeline_lib/natural.py", "\nimport ", "\nfrom . import extra_dep  # noqa\nimport "
    )
    assert "pipeline_lib.extra_dep" in imported_modules(script, src)
    d2 = script_digest(script, src)
    (src / "pipeline_lib/extra_dep.py").write_text("VALUE = 2\n")
    assert d2 != d1 and script_digest(script, src) != d2


def _forget(cd) -> None:
    """A fresh process: nothing parsed, nothing known."""
    cd._KNOWN.clear()
    cd._analyse.cache_clear()
    cd._resolved_imports.cache_clear()


def test_disk_cache_gives_the_same_digests_and_ignores_foreign_files(tree, tmp_path):
    from pipeline_lib import codedigest as cd

    src, script, cache = tree / "src", tree / "scripts" / "dmm_attacks.py", tmp_path / "c.json"
    _forget(cd)
    cold = script_digest(script, src)
    cd.save_cache(cache)
    data = json.loads(cache.read_text())
    assert data["algorithm"] == cd._ALGORITHM and len(data["files"]) >= 10
    _forget(cd)
    cd.load_cache(cache)
    assert script_digest(script, src) == cold and not cd._NEW  # nothing parsed again
    # entries of another version of the algorithm, or an unreadable file: ignored
    wrong = {k: {"digest": "0" * 64, "imports": []} for k in data["files"]}
    for text in (json.dumps({"algorithm": "other", "files": wrong}), "{not json"):
        cache.write_text(text)
        _forget(cd)
        cd.load_cache(cache)
        assert script_digest(script, src) == cold
    # a changed file is parsed again even with a warm cache
    _forget(cd)
    cd.load_cache(cache)
    _rewrite(src / "pipeline_lib/attacks.py", "    x0 = x.detach()\n", "    x0 = x.detach() + 0\n")
    assert script_digest(script, src) != cold
