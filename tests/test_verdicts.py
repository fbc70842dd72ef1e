"""The verdict engine on synthetic evidence with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline_lib.ledger import NO_CONTROL, Claim, Evidence, EvidenceContext, decision_rule
from pipeline_lib.verdicts import decide, judge, replicates_needed, summary


def claim(evidence, test="t", direction="greater", margin=0.0, control="a control", **kw):
    return Claim(
        id="toy.claim",
        paper="dmm",
        location="Sec. 0",
        statement="a toy claim",
        metric="a toy metric",
        metric_keys=(),
        control=control,
        unit="seeds",
        test=test,
        direction=direction,
        margin=margin,
        evidence=evidence,
        **kw,
    )


def run(c: Claim) -> dict:
    r = judge(c, EvidenceContext(metrics={}, config={}))
    json.dumps(r, allow_nan=False)  # plain, JSON-safe data
    return r


rng = np.random.default_rng(0)


@pytest.mark.parametrize("test", ["t", "wilcoxon", "mannwhitney"])
def test_clear_effect_reproduces_and_opposite_does_not(test):
    ours = rng.normal(2.0, 0.3, 40)
    ctrl = rng.normal(1.0, 0.3, 40)
    paired = test == "wilcoxon"
    r = run(claim(lambda ctx: Evidence(ours, ctrl, paired=paired), test=test))
    assert r["verdict"] == "reproduces"
    assert r["effect_ci"][0] > 0 and r["p_value"] < 1e-6
    assert r["estimate_ci"][0] < r["estimate"] < r["estimate_ci"][1]
    assert r["replicates_needed"] is None
    r = run(claim(lambda ctx: Evidence(ctrl, ours, paired=paired), test=test))
    assert r["verdict"] == "does not reproduce"
    assert r["effect_ci"][1] < 0 and r["p_value"] > 0.5


def test_small_n_large_spread_is_inconclusive_with_replicates_needed():
    # 3 seeds, sd ~26 around a difference of ~8 degrees (the README's old "no")
    ours = np.array([10.0, 62.0, 38.7])
    r = run(claim(lambda ctx: Evidence(ours, 45.0), direction="greater"))
    assert r["verdict"] == "inconclusive"
    assert r["effect_ci"][0] < 0 < r["effect_ci"][1]
    assert r["n"] == 3
    need = r["replicates_needed"]
    assert need is not None and need > 3
    # at that many replicates with the same mean and spread the interval would decide it
    assert decide(claim(None, not_testable="x"), *r["effect_ci"]) == "inconclusive"


def test_margin_is_the_smallest_effect_that_counts():
    ours = rng.normal(1.05, 0.01, 30)
    assert run(claim(lambda ctx: Evidence(ours, 1.0)))["verdict"] == "reproduces"
    r = run(claim(lambda ctx: Evidence(ours, 1.0), margin=0.5))
    assert r["verdict"] == "does not reproduce"  # a real but too small effect


def test_missing_control_is_inconclusive_no_control():
    r = run(claim(lambda ctx: Evidence(rng.normal(5, 1, 10), None)))
    assert r["verdict"] == "inconclusive (no control)"
    assert r["effect"] is None and r["estimate"] is not None
    # an absolute claim judged against 0 needs no control
    r = run(claim(lambda ctx: Evidence(rng.normal(5, 1, 10), None), control=NO_CONTROL))
    assert r["verdict"] == "reproduces"


def test_missing_dataset_is_not_testable_and_reads_nothing():
    def boom(ctx):
        raise AssertionError("evidence read for an untestable claim")

    r = run(claim(boom, not_testable="needs CIFAR-10, which this config does not prepare"))
    assert r["verdict"] == "not testable here"
    assert "CIFAR-10" in r["reason"]


def test_within_direction_equivalence():
    ours = rng.normal(0.99, 0.005, 50)
    ctrl = rng.normal(0.99, 0.005, 50)
    c = claim(lambda ctx: Evidence(ours, ctrl), direction="within", margin=0.02)
    assert run(c)["verdict"] == "reproduces"
    c = claim(lambda ctx: Evidence(ours - 0.1, ctrl), direction="within", margin=0.02)
    assert run(c)["verdict"] == "does not reproduce"


def test_at_least_direction_is_non_inferiority():
    ctrl = rng.normal(0.6, 0.01, 20)
    # ours 0.3 above the control: a "within 0.1" claim fails, "at least as high as the
    # control (margin 0.1)" reproduces
    more = claim(
        lambda ctx: Evidence(ctrl + 0.3, ctrl, paired=True), direction="at_least", margin=0.1
    )
    assert run(more)["verdict"] == "reproduces"
    within = claim(
        lambda ctx: Evidence(ctrl + 0.3, ctrl, paired=True), direction="within", margin=0.1
    )
    assert run(within)["verdict"] == "does not reproduce"
    # 0.05 below: still within the margin; 0.3 below: wholly under -0.1, a "no"
    assert (
        run(
            claim(
                lambda ctx: Evidence(ctrl - 0.05, ctrl, paired=True),
                direction="at_least",
                margin=0.1,
            )
        )["verdict"]
        == "reproduces"
    )
    less = claim(
        lambda ctx: Evidence(ctrl - 0.3, ctrl, paired=True), direction="at_least", margin=0.1
    )
    assert run(less)["verdict"] == "does not reproduce"
    assert "> -0.1" in decision_rule(more)


def test_binomial_against_constant_and_control():
    hits = np.r_[np.ones(53), np.zeros(47)]
    r = run(claim(lambda ctx: Evidence(hits, 0.3), test="binomial"))
    assert r["verdict"] == "reproduces" and r["n"] == 100
    assert r["estimate"] == pytest.approx(0.53)
    lo, hi = r["estimate_ci"]
    assert lo < 0.53 < hi and hi - lo < 0.25  # a Wilson interval
    few = np.r_[np.zeros(9)]  # 0 of 9: compatible with 0.53? no, but with 0.2 yes
    r = run(claim(lambda ctx: Evidence(few, 0.2), test="binomial"))
    assert r["verdict"] == "inconclusive"
    r = run(claim(lambda ctx: Evidence(few, 0.53), test="binomial"))
    assert r["verdict"] == "does not reproduce"
    ctrl = np.r_[np.ones(10), np.zeros(90)]
    r = run(claim(lambda ctx: Evidence(hits, ctrl), test="binomial"))
    assert r["verdict"] == "reproduces" and r["control_estimate"] == pytest.approx(0.1)
    assert r["p_value"] < 1e-6


def test_spearman_trend():
    x = np.log10(np.logspace(-6, 2, 9))
    y = 90 - 10 * np.arange(9) + rng.normal(0, 0.1, 9)
    c = claim(lambda ctx: Evidence((x, y), 0.0), test="spearman", direction="less", margin=0.5)
    r = run(c)
    assert r["estimate"] == pytest.approx(-1.0)
    assert r["verdict"] == "reproduces"


def test_magnitude_agreement_is_separate_from_direction():
    ours = rng.normal(2.2, 0.05, 3)
    r = run(claim(lambda ctx: Evidence(ours, 1.0), paper_value=6.0))
    assert r["verdict"] == "reproduces"
    assert r["magnitude"] == "outside our interval"
    r = run(claim(lambda ctx: Evidence(ours, 1.0), paper_value=2.2))
    assert r["magnitude"] == "inside our interval"


def test_one_replicate_gives_no_interval():
    r = run(claim(lambda ctx: Evidence([3.0], 1.0)))
    assert r["verdict"] == "inconclusive" and "1 replicate" in r["reason"]


def test_replicates_needed_formula():
    c = claim(None, not_testable="x")
    # normal approximation (1.96 + 0.84)^2 * (sd / distance)^2 = 7.85 for sd = distance;
    # with t quantiles (n - 1 degrees of freedom) it takes a few more
    n = replicates_needed(c, effect=1.0, sd=1.0)
    assert 8 < n <= 12
    from scipy import stats

    t = stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)
    assert t / n**0.5 < 1  # enough at n
    # large samples: the normal approximation
    assert replicates_needed(c, effect=0.1, sd=1.0) == pytest.approx(785, rel=0.05)
    assert replicates_needed(c, effect=0.0, sd=1.0) is None
    # a large effect still needs more than one replicate
    assert replicates_needed(c, effect=5.0, sd=1.0) == 3  # n = 2: t_{0.975,1} = 12.7


def test_summary_counts_per_paper():
    rows = [
        {"paper": "dmm", "verdict": "reproduces"},
        {"paper": "dmm", "verdict": "reproduces"},
        {"paper": "squiggles", "verdict": "inconclusive"},
    ]
    assert summary(rows) == {"dmm": {"reproduces": 2}, "squiggles": {"inconclusive": 1}}


def test_a_claim_that_follows_by_construction_is_not_counted_as_a_confirmation():
    from dataclasses import replace

    from pipeline_lib.ledger import BY_CONSTRUCTION, index
    from pipeline_lib.ledger_page import snapshot_markdown, verdict_text

    base = claim(lambda ctx: Evidence(ours=[1.0, 1.1, 0.9, 1.2], control=0.0))
    implied = replace(
        base, id="toy.implied", follows_from="toy.claim", construction="cos is monotone"
    )
    r_base, r_implied = run(base), run(implied)
    # judged as usual, and marked as not independent
    assert r_base["verdict"] == r_implied["verdict"] == "reproduces"
    assert r_implied["follows_from"] == "toy.claim"
    assert "follows by construction from toy.claim" in verdict_text(r_implied)
    assert "construction" not in verdict_text(r_base)
    counts = summary([r_base, r_implied])
    assert counts == {"dmm": {"reproduces": 1, BY_CONSTRUCTION: 1}}
    record = {"config": "c", "commit": "x", "summary": counts, "claims": [r_base, r_implied]}
    assert f"| {BY_CONSTRUCTION} |" in snapshot_markdown(record)
    # declared with its reason, and only after a claim that exists
    with pytest.raises(ValueError, match="needs its construction"):
        replace(base, id="toy.bare", follows_from="toy.claim")
    # a claim can hold by construction without an equivalent claim in the ledger
    alone = run(replace(base, id="toy.alone", construction="chosen to separate"))
    assert "follows by construction: chosen to separate" in verdict_text(alone)
    assert summary([alone]) == {"dmm": {BY_CONSTRUCTION: 1}}
    with pytest.raises(ValueError, match="not declared"):
        index([implied])
    assert set(index([base, implied])) == {"toy.claim", "toy.implied"}


def test_bad_declarations_raise():
    with pytest.raises(ValueError, match="unknown test"):
        claim(lambda ctx: None, test="chi-by-eye")
    with pytest.raises(ValueError, match="unknown paper"):
        Claim(
            id="x", paper="nope", location="", statement="", metric="", metric_keys=(),
            control=NO_CONTROL, unit="", test="t", direction="greater", evidence=print,
        )  # fmt: skip
    with pytest.raises(ValueError, match="no evidence"):
        claim(None)


def test_paired_binomial_is_exact_mcnemar_on_the_discordant_pairs():
    ctrl = np.r_[np.ones(40), np.zeros(60)]  # the control is right on the first 40
    ours = ctrl.copy()
    ours[:30] = 0  # ours loses 30 of them, gains none
    r = run(claim(lambda ctx: Evidence(ours, ctrl, paired=True), test="binomial", direction="less"))
    assert r["verdict"] == "reproduces" and r["statistic"] == 0.0
    assert r["p_value"] == pytest.approx(0.5**30)  # 0 of 30 discordant pairs go our way
    assert r["effect"] == pytest.approx(-0.3) and r["effect_ci"][1] < 0
    same = run(claim(lambda ctx: Evidence(ctrl, ctrl, paired=True), test="binomial"))
    lo, hi = same["effect_ci"]
    assert lo < 0 < hi and same["verdict"] == "inconclusive"  # no zero-width interval


def test_zero_of_few_against_a_control_is_inconclusive_not_a_no():
    """0 of 9 misclassified curves near the boundary vs 1 of 100 of all curves (the
    Squiggles Fig. 8 case): compatible with both, never decided by a zero-width
    bootstrap."""
    ours, ctrl = np.zeros(9), np.r_[1.0, np.zeros(99)]
    r = run(claim(lambda ctx: Evidence(ours, ctrl), test="binomial"))
    lo, hi = r["effect_ci"]
    assert lo < 0 < hi and hi > 0.2
    assert r["verdict"] == "inconclusive"
    assert r["replicates_needed"] is None or r["replicates_needed"] > 9


def test_replications_keep_the_verdict_only_where_they_all_agree():
    ours = rng.normal(2.0, 0.3, 40)
    ctrl = rng.normal(1.0, 0.3, 40)
    agree = claim(
        lambda ctx: Evidence(ours, ctrl),
        replications=(("second model", lambda ctx: Evidence(ours + 0.1, ctrl)),),
    )
    r = run(agree)
    assert r["verdict"] == "reproduces" and r["reason"] == ""
    (rep,) = r["replications"]
    assert rep["label"] == "second model" and rep["verdict"] == "reproduces"
    assert rep["effect"] == pytest.approx(r["effect"] + 0.1)
    assert "judged the same way under second model" in r["decision_rule"]
    # the same claim with a replication whose effect goes the other way
    flip = claim(
        lambda ctx: Evidence(ours, ctrl),
        replications=(
            ("second model", lambda ctx: Evidence(ours, ctrl)),
            ("third model", lambda ctx: Evidence(ctrl, ours)),
        ),
    )
    r = run(flip)
    assert r["verdict"] == "inconclusive"
    assert [x["verdict"] for x in r["replications"]] == ["reproduces", "does not reproduce"]
    assert "replications disagree" in r["reason"] and "third model: does not" in r["reason"]
    assert r["replicates_needed"] is None  # more replicates of the main one decide nothing
    # a replication without its control cannot confirm the main verdict either
    r = run(
        claim(
            lambda ctx: Evidence(ours, ctrl),
            replications=(("no control", lambda ctx: Evidence(ours, None)),),
        )
    )
    assert r["verdict"] == "inconclusive"
    with pytest.raises(ValueError, match="replication labels"):
        claim(lambda ctx: None, replications=(("a", print), ("a", print)))
