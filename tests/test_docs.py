"""The documentation agrees with the code: docs/config.md is what the generator makes
from config/schema.yaml, every key the shipped configs set is in that reference, and
every ``pipeline_lib.<name>`` that README.md and docs/*.md mention exists."""

import importlib
import json
import re

import pytest
import yaml
from config_reference import CONFIGS, OUT, ROOT, config_key_paths, key_paths, render

DOCS = sorted((ROOT / "docs").glob("*.md"))
STUDIES = ("lowdim", "dmm", "tilting", "shells", "squiggles", "data")


def test_config_reference_is_generated_from_the_current_schema():
    assert OUT.exists(), "docs/config.md is missing: run .venv/bin/python tests/config_reference.py"
    assert OUT.read_text() == render(), (
        "docs/config.md differs from config/schema.yaml: "
        "run .venv/bin/python tests/config_reference.py"
    )


def test_config_reference_lists_every_schema_key():
    text = OUT.read_text()
    # a handful of keys at every depth and of every kind (placeholder, nested, $ref'd)
    for key in (
        "seed",
        "natural.<dataset>.n_train",
        "lowdim.grid.res_3d",
        "dmm.<dataset>.constrained.on_step_factor",
        "tilting.<dataset>.classes",
        "shells.<dataset>.ncn.alphas",
        "squiggles.attack.focus_eps",
    ):
        assert f"| `{key}` |" in text, key
    # per-dataset defaults that differ from the shared definition are named
    assert (
        "`16` (cifar10: `128`; imagenet: `3584`)" in text and "`[2, 4]` (mnist: `[2, 3]`)" in text
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_every_key_of_a_shipped_config_is_in_the_reference(name):
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    documented = key_paths()
    missing = sorted(set(config_key_paths(config)) - documented)
    assert not missing, f"config/{name} sets keys docs/config.md does not list: {missing}"


def test_key_paths_catch_an_unknown_key():
    assert "dmm.fashion_mnist.autoencoder.k" in key_paths()
    assert "dmm.cifar10.distance.bisections" in key_paths()
    assert "tilting.cifar10.classes" not in key_paths()  # tilting has no CIFAR-10
    bad = {"lowdim": {"train": {"epohcs": 3}}}
    assert "lowdim.train.epohcs" in set(config_key_paths(bad)) - key_paths()


# ----------------------------------------------------------- names the documents cite

NAME = re.compile(r"\bpipeline_lib(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def resolve(dotted: str):
    """Import the longest importable module prefix of ``dotted``, then getattr the rest."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as err:
            if err.name is None or not ".".join(parts[:i]).startswith(err.name):
                raise  # a module that exists failed to import something else
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _cited(paths) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for path in paths:
        for name in NAME.findall(path.read_text()):
            names.setdefault(name, []).append(path.name)
    return names


CITED = _cited([ROOT / "README.md", *DOCS])


def test_the_documents_cite_library_names():
    for name in (
        "pipeline_lib.studies.dmm.experiment.load_checkpoint",
        "pipeline_lib.studies.squiggles.generators",
        "pipeline_lib.studies.tilting.experiment",
    ):
        assert any(n == name or n.startswith(name + ".") for n in CITED), name


@pytest.mark.parametrize("name", sorted(CITED))
def test_every_cited_library_name_resolves(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as err:
        pytest.fail(
            f"{name} (cited in {', '.join(sorted(set(CITED[name])))}) does not resolve: {err}"
        )


def test_resolve_rejects_a_stale_name():
    with pytest.raises((ImportError, AttributeError)):
        resolve("pipeline_lib.squiggle_experiments.latent_pgd")  # the module before studies/
    with pytest.raises(AttributeError):
        resolve("pipeline_lib.studies.dmm.experiment.no_such_function")


# ------------------------------------------------------------------- one home per study


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_has_its_document_linked_from_the_readme(study):
    doc = ROOT / "docs" / f"{study}.md"
    assert doc.exists(), doc
    readme = (ROOT / "README.md").read_text()
    assert f"(docs/{study}.md)" in readme, f"README.md does not link docs/{study}.md"
    text = doc.read_text()
    for heading in ("## Config", "## Outputs", "## Metrics"):
        assert f"\n{heading}" in text, f"docs/{study}.md has no {heading!r} section"


def test_readme_links_the_config_reference_and_holds_the_current_figure_table():
    import figure_table

    readme = (ROOT / "README.md").read_text()
    assert "(docs/config.md)" in readme
    assert "\n## Paper figure → rule → script → function\n" in readme
    assert figure_table.default_table() in readme, (
        "README.md's figure table is stale: run .venv/bin/python tests/figure_table.py"
    )


def _anchors(path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_relative_links_in_the_documents_point_to_files_and_headings():
    link = re.compile(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)")
    bad = []
    for path in [ROOT / "README.md", *DOCS]:
        for target, anchor in link.findall(path.read_text()):
            dest = path.parent / target if target else path
            if not dest.exists():
                bad.append(f"{path.relative_to(ROOT)} -> {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                bad.append(f"{path.relative_to(ROOT)} -> {target}#{anchor}")
    assert not bad, "\n".join(bad)


def test_anchor_slugs_follow_github():
    page = ROOT / "README.md"
    assert {"references", "what-triggers-a-rerun", "paper-figure--rule--script--function"} <= (
        _anchors(page)
    )


# ------------------------------------------------------------ no hand-typed results

VERDICT_WORDS = re.compile(
    r"\*\*(yes|no|partly)\b|reproduces\?|reproduces at this scale|\| *(yes|no|partly)\b"
    r"|^\|.*(does not reproduce|\binconclusive\b)",
    re.I,
)
MEASURED = re.compile(r"\d\s*±\s*\d")  # a measured mean ± sd


def test_readme_verdicts_are_the_generated_snapshot():
    """The README's verdict block is exactly what `make snapshot` writes from the
    committed snapshot of a full default run's claims.json (never edited by hand)."""
    from pipeline_lib.ledger_page import snapshot_block, snapshot_markdown

    record = json.loads((ROOT / "docs" / "claims_snapshot.json").read_text())
    assert record["config"] == "config/config.yaml" and record["claims"]
    block = snapshot_block((ROOT / "README.md").read_text())
    assert block == snapshot_markdown(record), (
        "README.md's verdict snapshot differs from docs/claims_snapshot.json: run `make "
        "figures` and `make snapshot`, never edit it by hand"
    )


def test_no_verdict_or_measured_result_is_typed_outside_the_snapshot():
    from pipeline_lib.ledger_page import SNAPSHOT_END, SNAPSHOT_START

    bad = []
    for path in [ROOT / "README.md", *DOCS]:
        text = path.read_text()
        if SNAPSHOT_START in text:
            head, rest = text.split(SNAPSHOT_START)
            text = head + rest.split(SNAPSHOT_END)[1]
        # the benchmark table states timings of `make bench` (with their spread), not
        # results of the studies; verdict words are checked there too
        bench = re.compile(r"\n## Benchmarks\n.*?(?=\n## )", re.S)
        timings = set(bench.search(text).group(0).splitlines()) if bench.search(text) else set()
        for i, line in enumerate(text.splitlines(), 1):
            measured = MEASURED.search(line) and line not in timings
            if VERDICT_WORDS.search(line) or measured:
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:90]}")
    assert not bad, "\n".join(bad)


def test_the_typed_result_check_can_fail():
    assert VERDICT_WORDS.search("| clinging | 0.1 | **yes** |")
    assert VERDICT_WORDS.search("Misclassified curves are close | **no** at this scale")
    assert VERDICT_WORDS.search("| rare errors | 67% | does not reproduce |")
    assert MEASURED.search("angle 34.7 ± 2.6°")
    assert not VERDICT_WORDS.search("the model reproduces the images") and not MEASURED.search(
        "mean ± sd over seeds"
    )


def test_make_snapshot_rewrites_only_the_block_and_refuses_another_config(tmp_path):
    from pipeline_lib.ledger_page import snapshot_block, snapshot_markdown, write_snapshot

    record = json.loads((ROOT / "docs" / "claims_snapshot.json").read_text())
    readme = tmp_path / "README.md"
    readme.write_text(
        "# title\n\n" + snapshot_block((ROOT / "README.md").read_text()) + "\n\nend\n"
    )
    changed = {**record, "commit": "abc1234"}
    (tmp_path / "claims.json").write_text(json.dumps(changed))
    write_snapshot(tmp_path / "claims.json", readme, tmp_path / "snap.json")
    text = readme.read_text()
    assert text.startswith("# title\n\n") and text.endswith("\n\nend\n")
    assert snapshot_block(text) == snapshot_markdown(changed) and "abc1234" in text
    (tmp_path / "claims.json").write_text(json.dumps({**record, "config": "config/test.yaml"}))
    with pytest.raises(SystemExit, match="not config/config.yaml"):
        write_snapshot(tmp_path / "claims.json", readme, tmp_path / "snap.json")
