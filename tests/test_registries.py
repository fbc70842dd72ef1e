"""The studies' registries: every figure declared once, completely and consistently,
for the test, default and paper configs."""

import importlib
import inspect
import re

import pytest

from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.figures import FIGURE_DIR, Figure, index, names_regex
from pipeline_lib.references import REFERENCES
from pipeline_lib.studies import STUDIES, all_figures, registry

CONFIGS = ("test", "config", "paper")


@pytest.fixture(scope="module", params=CONFIGS)
def cfg(request, root):
    return check_config(
        load_yaml(root / f"config/{request.param}.yaml"), root / "config/schema.yaml"
    )


def _paths(inputs):
    for v in inputs.values():
        yield from ([v] if isinstance(v, str) else v)


def test_every_figure_is_declared_once_and_completely(cfg):
    figs = all_figures(cfg)
    by_name = index(figs)  # raises on a name declared twice
    assert len(by_name) == len(figs) > 10
    for f in figs:
        assert f.caption and f.category and f.kind, f.name
        assert f.rule == "figure_natural_samples" or f.rule.startswith("figure_"), f.name
        assert f.path == f"{FIGURE_DIR}/{f.name}.png"
        assert f.inputs and all(p.startswith("results/") for p in _paths(f.inputs)), f.name
        assert set(f.references) <= set(REFERENCES)


def test_each_figure_rule_draws_exactly_its_names(cfg):
    figs = all_figures(cfg)
    for study in STUDIES:
        rule = f"figure_{study}"
        pattern = re.compile(names_regex(figs, rule))
        for f in figs:
            assert bool(pattern.fullmatch(f.name)) == (f.rule == rule), (rule, f.name)


@pytest.mark.parametrize("study", STUDIES)
def test_declared_plot_functions_exist_and_are_what_draw_calls(study, test_cfg):
    reg = registry(study)
    plots = importlib.import_module(f"pipeline_lib.studies.{study}.plots")
    source = inspect.getsource(reg.draw)
    for kind, fn in reg.PLOTS.items():
        assert callable(getattr(plots, fn)), (study, fn)
        # the branch of draw() for this kind calls the declared function
        branch = source.split(f'kind == "{kind}"')[1].split("\n    if ")[0]
        assert f"plots.{fn}(" in branch, (study, kind, fn)
    # the figures drawn by the study's own figure rule (an ablation registry of the study
    # may declare figures of its own rule, with its own PLOTS, tested with it)
    own = [f for f in reg.figures(test_cfg) if f.rule == reg.RULE]
    assert own and {f.kind for f in own} <= set(reg.PLOTS)


def test_a_figure_with_an_unknown_reference_is_refused():
    with pytest.raises(ValueError, match="unknown references"):
        Figure(name="x", rule="r", kind="k", caption="c", category="c", references=("nope",))


def test_switching_a_study_off_removes_its_figures(test_cfg):
    cfg = {**test_cfg, "shells": {**test_cfg["shells"], "datasets": []}}
    names = {f.name for f in all_figures(cfg)}
    assert not {n for n in names if n.startswith("shells_")}
    assert {f.name for f in all_figures(test_cfg)} - names == {
        f.name for f in registry("shells").figures(test_cfg)
    }


def test_report_caption_names_the_papers_in_full(test_cfg):
    fig = next(f for f in all_figures(test_cfg) if f.name == "tilting_toy")
    text = fig.report_caption()
    assert text.startswith(fig.caption)
    for key in ("tanay_griffin", "tilting_article"):
        assert REFERENCES[key].text() in text


def test_metric_files_follow_the_studies_switched_on(test_cfg):
    from pipeline_lib.studies import all_metric_files

    files = all_metric_files(test_cfg)
    assert len(files) == len(set(files)) and all(f.endswith("metrics.json") for f in files)
    assert "results/shells/fashion_mnist/metrics.json" in files
    off = {**test_cfg, "shells": {**test_cfg["shells"], "datasets": []}}
    off["squiggles"] = {**test_cfg["squiggles"], "variants": [], "analysis_variants": []}
    assert set(files) - set(all_metric_files(off)) == {
        "results/shells/fashion_mnist/metrics.json",
        "results/squiggles/metrics.json",
        "results/squiggles/ablations/attack_loss_metrics.json",  # test.yaml's loss ablation
        "results/squiggles/size_sweep/metrics.json",  # test.yaml's training-set size sweep
        "results/squiggles/resolution/metrics.json",  # test.yaml's resolution study
    }


def test_every_claim_is_declared_once_and_completely(cfg):
    """The claims registries for the test, default and paper configs: unique ids, a
    complete declaration, a figure this config draws, stores under results/, and every
    study with claims on every paper it reproduces."""
    from pipeline_lib.ledger import TESTS
    from pipeline_lib.studies.ledger import all_claims

    claims = all_claims(cfg)  # raises on an id declared twice
    figures = {f.name for f in all_figures(cfg)}
    assert len(claims) >= 35
    for c in claims:
        assert c.statement and c.location and c.metric and c.unit and c.control, c.id
        assert c.test in TESTS and c.study in STUDIES, c.id
        if c.not_testable:  # its figure may belong to a dataset this config lacks
            continue
        assert c.figure in figures, (c.id, c.figure)
        assert c.metric_keys and c.evidence is not None, c.id
        assert all(p.startswith("results/") for p in c.inputs), c.id
    assert {c.study for c in claims} == set(STUDIES)
    assert {c.paper for c in claims} >= {"dmm", "squiggles", "wu"}
