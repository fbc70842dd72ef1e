"""A citable, licensed project: CITATION.cff valid by the Citation File Format's own
validator (cffconvert, from PyPI), one version everywhere, an MIT LICENSE named in
pyproject.toml, and no path outside the repository in any tracked file."""

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

import pipeline_lib
from pipeline_lib.gallery import build_gallery
from pipeline_lib.references import REFERENCES
from pipeline_lib.studies import all_figures

ROOT = Path(__file__).resolve().parents[1]
CFFCONVERT = ROOT / ".venv-tools" / "bin" / "cffconvert"


def _validate(path: Path) -> subprocess.CompletedProcess:
    assert CFFCONVERT.exists(), "no .venv-tools/bin/cffconvert: run make setup"
    return subprocess.run(
        [str(CFFCONVERT), "--validate", "-i", str(path)], capture_output=True, text=True
    )


def test_citation_cff_validates_against_the_schema(tmp_path):
    res = _validate(ROOT / "CITATION.cff")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "valid" in res.stdout.lower() and "1.2.0" in res.stdout
    # the validator does reject an invalid file (no authors, a year that is a string)
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    del cff["authors"]
    cff["references"][0]["year"] = "two thousand"
    bad = tmp_path / "CITATION.cff"
    bad.write_text(yaml.safe_dump(cff))
    assert _validate(bad).returncode != 0


def test_one_version_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(cff["version"]) == project["version"] == pipeline_lib.__version__


def test_mit_licence_named_in_pyproject_and_citation():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_every_reproduced_paper_has_a_full_reference():
    refs = yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]
    titles = {r["title"] for r in refs}
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## References\n", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())  # titles wrap across lines
    for ref in refs:
        assert ref["authors"] and isinstance(ref["year"], int), ref["title"]
        assert ref["title"] in section, ref["title"]
        for author in ref["authors"]:
            assert author["family-names"] in section, author
    for short in ("Dimpled Manifold", "excusable", "Manifold Assumption", "Boundary Tilting"):
        assert any(short.lower() in t.lower() for t in titles), short


OUTSIDE = re.compile(r"(?<![\w.])((?:\.\./)+)([\w.-]+)")
FORBIDDEN = ("shared" + "/seeds", "/work" + "/", "/root" + "/")


def _tracked_text_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for rel in out.stdout.split():
        path = ROOT / rel
        if path.suffix in {".lock", ".png"} or not path.is_file():
            continue
        try:
            yield rel, path.read_text()
        except UnicodeDecodeError:
            continue


def _outside_paths(rel: str, text: str) -> list[str]:
    """The paths in ``text`` (of the tracked file ``rel``) that lie outside the checkout."""
    bad = []
    for m in OUTSIDE.finditer(text):
        target = (ROOT / rel).parent.joinpath(m.group(1), m.group(2)).resolve()
        if not target.is_relative_to(ROOT):
            bad.append(f"{rel}: {m.group(0)}")
    return bad + [f"{rel}: {f}" for f in FORBIDDEN if f in text]


def test_no_path_outside_the_repository_in_tracked_files():
    """Documents, captions, messages, code: every ``../x`` stays inside the checkout,
    and no absolute path of a particular machine appears."""
    bad = [b for rel, text in _tracked_text_files() for b in _outside_paths(rel, text)]
    assert not bad, "\n".join(bad)


# built here, so this file does not itself hold an outside path
@pytest.mark.parametrize("text", ["see " + "../" * 2 + "elsewhere/papers.txt", "in /" + "work/x"])
def test_the_path_check_catches_an_outside_path(text):
    assert _outside_paths("README.md", text)
    assert not _outside_paths("rules/x.smk", "script: ../scripts/a.py")


def test_references_agree_in_code_readme_and_citation():
    """pipeline_lib.references is the list the captions use; the README section and
    CITATION.cff repeat it: same titles, years and authors."""
    cff = {r["title"]: r for r in yaml.safe_load((ROOT / "CITATION.cff").read_text())["references"]}
    readme = (ROOT / "README.md").read_text()
    section = " ".join(readme.split("\n## References\n", 1)[1].split("\n## ", 1)[0].split())
    assert len(cff) == len(REFERENCES)
    for ref in REFERENCES.values():
        entry = cff[ref.title]
        assert entry["year"] == ref.year, ref.title
        assert [a["family-names"] for a in entry["authors"]] == [a.split()[-1] for a in ref.authors]
        assert ref.title in section and str(ref.year) in section
        assert all(a in section for a in ref.authors), ref.authors
        if ref.identifier:
            assert ref.identifier in section and ref.identifier in str(entry["identifiers"])


def test_gallery_captions_point_to_the_references(tmp_path, test_cfg):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    names = ["dmm_lowdim_clinging", "tilting_toy", "data_fashion_mnist_samples"]
    declared = {f.name: f for f in all_figures(test_cfg)}
    build_gallery([png] * 3, [declared[n].gallery_entry() for n in names], {}, tmp_path / "figures")
    page = (tmp_path / "figures" / "index.html").read_text()
    assert "id='references'" in page
    for key, ref in REFERENCES.items():
        assert f"id='ref-{key}'" in page and ref.identifier in page
    assert '<a href="#ref-dmm">DMM</a>' in page and '<a href="#ref-tanay_griffin">' in page
    assert declared["shells_fashion_mnist_success"].references == ("wu",)
    assert declared["data_fashion_mnist_samples"].references == ()
    # every figure of a study names its papers; the report caption carries them in full
    for fig in declared.values():
        assert fig.references or fig.name.startswith("data_"), fig.name
        for key in fig.references:
            assert REFERENCES[key].text() in fig.report_caption()
