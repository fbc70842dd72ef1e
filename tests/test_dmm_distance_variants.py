"""dmm.distance_variants: which classifiers' Fig. 6 distance curves are tracked, the jobs
and summary inputs that follow from it, and the Fig. 6 claims that
say what they need when a curve is not tracked."""

import copy

import pytest

from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.studies.dmm import checks, registry
from pipeline_lib.studies.dmm import claims as dmm_claims


@pytest.fixture(scope="module")
def cfg(root):
    return check_config(load_yaml(root / "config/config.yaml"), root / "config/schema.yaml")


def _with(cfg, tracked):
    c = copy.deepcopy(cfg)
    c["dmm"]["distance_variants"] = tracked
    return c


def test_default_tracks_clean_and_the_random_label_control(cfg):
    assert registry.distance_variants(cfg) == ["clean", "random_labels"]
    dist = registry.summary_inputs(cfg, "fashion_mnist")["distances"]
    assert {p.split("/")[3] for p in dist} == {"clean", "random_labels"}
    assert len(dist) == 2 * len(cfg["dmm"]["seeds"])
    # the trainings (and so the test-accuracy curves) stay every variant's
    assert len(registry.summary_inputs(cfg, "fashion_mnist")["trainings"]) == len(
        cfg["dmm"]["variants"]
    ) * len(cfg["dmm"]["seeds"])


def test_null_tracks_every_variant_in_their_order(cfg):
    c = _with(cfg, None)
    assert registry.distance_variants(c) == list(cfg["dmm"]["variants"])
    c = _with(cfg, ["random_labels", "clean"])
    assert registry.distance_variants(c) == ["clean", "random_labels"]


def test_a_variant_that_is_not_trained_is_not_tracked(cfg):
    c = _with(cfg, ["clean", "noise"])
    c["dmm"]["variants"] = ["clean", "adversarial"]
    assert registry.distance_variants(c) == ["clean"]
    assert not [e for e in checks.errors(c) if "distance_variants" in e]


@pytest.mark.parametrize("tracked", [["clean"], ["clean", "random_labels"]])
def test_fig6_claims_need_their_curve(cfg, tracked):
    by_id = {c.id: c for c in dmm_claims.claims(_with(cfg, tracked))}
    fig6 = [c for cid, c in by_id.items() if cid.startswith("dmm.fig6.") and "fashion" in cid]
    assert fig6
    for c in fig6:
        rl = "random_labels" in c.id or "without_labels" in c.id
        if rl and "random_labels" not in tracked:
            assert "dmm.distance_variants" in c.not_testable, c.id
            assert not c.inputs
        else:
            assert not c.not_testable, (c.id, c.not_testable)
            assert c.inputs and all("/distance.zarr" in p for p in c.inputs)
