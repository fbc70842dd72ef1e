"""Cluster wall-time requests (pipeline_lib.costs): every rule declares its ``runtime``
from the config, the requests follow the sizes they are derived from, and the config's
scale and cap apply."""

import copy
import re

import pytest

from pipeline_lib import costs
from pipeline_lib.config import check_config, load_yaml


def _rules(root) -> dict[str, str]:
    out = {}
    for f in sorted((root / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", f.read_text()):
            m = re.match(r"rule (\w+):", block)
            if m:
                out[m.group(1)] = block
    return out


@pytest.fixture(scope="module")
def paper(root):
    return check_config(load_yaml(root / "config/paper.yaml"), root / "config/schema.yaml")


def test_every_rule_asks_for_its_own_runtime(root):
    rules = _rules(root)
    assert len(rules) > 30
    for name, block in rules.items():
        assert f'runtime=runtime_of("{name}")' in block, name
    # every sized rule exists and has a measured cost, and the other way round
    assert set(costs.UNITS) <= set(rules)
    assert set(costs.SECONDS_PER_UNIT) == set(costs.UNITS)


def test_requests_follow_the_sizes(paper):
    w = {"variant": "sinenet", "sigma": "0", "seed": "0"}
    base = costs.runtime_min("squiggles_train", {**paper, "runtime": {}}, w)
    big = copy.deepcopy(paper)
    big["squiggles"]["n_train"] *= 4
    big["runtime"] = {}
    assert base > costs.FLOOR_MIN
    assert costs.runtime_min("squiggles_train", big, w) == pytest.approx(4 * base, rel=0.01)
    # adversarial training costs its PGD steps; a plane's 3-D grid more than a line's
    d = {"dataset": "fashion_mnist", "seed": "0"}
    assert costs.UNITS["dmm_classifier"](paper, {**d, "variant": "adversarial"}) > 5 * costs.UNITS[
        "dmm_classifier"
    ](paper, {**d, "variant": "clean"})
    line = costs.UNITS["lowdim_train"](paper, {"manifold": "line", "variant": "clean"})
    plane = costs.UNITS["lowdim_train"](paper, {"manifold": "plane", "variant": "clean"})
    assert plane > line
    # unsized rules (figures, summaries) get the floor
    assert costs.runtime_min("figure_dmm", paper, {}) == costs.FLOOR_MIN


def test_scale_and_cap(paper):
    w = {"variant": "sinenet", "sigma": "0", "seed": "0"}
    free = {**paper, "runtime": {"scale": 1.0, "max_min": None}}
    m = costs.runtime_min("squiggles_train", free, w)
    half = costs.runtime_min("squiggles_train", {**paper, "runtime": {"scale": 0.5}}, w)
    assert half == pytest.approx(m / 2, abs=1)
    assert costs.runtime_min("squiggles_train", {**paper, "runtime": {"max_min": 60}}, w) == 60
    # the paper config caps its requests at a usual partition limit
    assert costs.runtime_min("squiggles_train", paper, w) == paper["runtime"]["max_min"]
    assert costs.runtime("dmm_tangents", paper)({"dataset": "mnist"}) == costs.FLOOR_MIN
