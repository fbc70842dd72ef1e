"""The verdict engine: a claim's evidence → estimate, interval, test and verdict.

For every :class:`pipeline_lib.ledger.Claim` the engine reports our estimate with a 95%
interval, the control's, the effect (ours − control, or ours − the constant reference)
with its interval, the test's statistic and one-sided p-value (in the claim's
direction, against the smallest effect that counts), the number of replicates, and a
verdict decided by the claim's declared rule from the effect's interval alone:

* **reproduces**: the interval lies wholly on the claimed side of the margin;
* **does not reproduce**: it lies wholly on the other side (touching the margin
  counts as the other side: an effect of exactly zero is not a positive effect);
* **inconclusive**: it straddles the margin (compatible with both); the engine then
  says roughly how many replicates would decide it at the observed spread (80% power);
* **inconclusive (no control)**: a comparative claim whose control was not run;
* **not testable here**: the config lacks what the claim needs (the claim says what).

A claim may declare replications: the same measurement under other defensible protocol
choices (e.g. a second model steering a search). Each is judged by the same rule and
reported beside the main result; where any verdict differs from the main one, the
claim is inconclusive (the protocol choice decides it), with the disagreement as reason.

Separately, where the paper gives a number, whether it lies inside our estimate's
interval (magnitude agreement): direction and magnitude are different findings.

Every test and interval is scipy.stats': ``ttest_1samp`` / ``ttest_rel`` /
``ttest_ind`` (Welch) with their ``confidence_interval``; ``wilcoxon``,
``mannwhitneyu``, ``binomtest`` (Wilson interval; on discordant pairs, the exact
McNemar test), ``fisher_exact``, ``spearmanr``;
``bootstrap`` (seeded, 2 000 resamples) for intervals the tests do not give, except for
a difference of two proportions: Newcombe's interval from the two Wilson intervals (a
bootstrap of 0 of 9 has zero width).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
from scipy import stats

from .ledger import BY_CONSTRUCTION, NO_CONTROL, Claim, Evidence, EvidenceContext

CONFIDENCE = 0.95
POWER = 0.8
N_RESAMPLES = 2000
BOOT_SEED = 20_261_201  # the bootstrap's own seed: intervals are reproducible


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _interval(lo, hi) -> list[float | None]:
    return [_num(lo), _num(hi)]


def _mean(a, axis=-1):
    return np.mean(a, axis=axis)


def _mean_diff(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _spearman(x, y, axis=-1):
    """Spearman's rho along ``axis`` (Pearson's r of scipy.stats.rankdata ranks), so the
    bootstrap draws all resamples at once."""
    rx, ry = (stats.rankdata(v, axis=axis) for v in (x, y))
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis) / np.sqrt((rx**2).sum(axis) * (ry**2).sum(axis))


def _wilcoxon(d, alt: str):
    """The signed-rank test: scipy's exact null for up to 50 samples without zeros or
    ties, else its normal approximation (instead of the slow permutation fallback)."""
    a = np.abs(np.asarray(d))
    exact = len(a) <= 50 and np.all(a > 0) and len(np.unique(a)) == len(a)
    return stats.wilcoxon(d, alternative=alt, method="exact" if exact else "approx")


def _boot(data, statistic, paired: bool = False) -> tuple[float, float]:
    """A seeded percentile-bootstrap 95% interval (NaN when degenerate); ``statistic``
    takes an ``axis`` (vectorized: every resample at once)."""
    if any(len(d) < 2 for d in data):
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            data,
            statistic,
            paired=paired,
            vectorized=True,
            n_resamples=N_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(BOOT_SEED),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _t_ci(x: np.ndarray) -> tuple[float, float]:
    if len(x) < 2 or not np.std(x, ddof=1) > 0:
        # no spread: the interval is the value itself when n >= 2, else unknown
        return (float(x.mean()), float(x.mean())) if len(x) >= 2 else (math.nan, math.nan)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(CONFIDENCE)
    return float(ci.low), float(ci.high)


def _alternative(direction: str) -> str:
    return {"greater": "greater", "less": "less", "within": "two-sided", "at_least": "greater"}[
        direction
    ]


def _shift(c: Claim) -> float:
    """The null value of the effect for the one-sided p-value."""
    return {"greater": c.margin, "less": -c.margin, "within": 0.0, "at_least": -c.margin}[
        c.direction
    ]


def decide(c: Claim, lo: float | None, hi: float | None) -> str:
    """The declared rule on the effect's interval."""
    if lo is None or hi is None:
        return "inconclusive"
    m = c.margin
    # the claimed side is open (an effect exactly at the margin does not count), the
    # other side closed: an interval [0, 0] on a claim of a positive effect is a "no"
    if c.direction == "greater":
        return "reproduces" if lo > m else "does not reproduce" if hi <= m else "inconclusive"
    if c.direction == "less":
        return "reproduces" if hi < -m else "does not reproduce" if lo >= -m else "inconclusive"
    if c.direction == "at_least":
        return "reproduces" if lo > -m else "does not reproduce" if hi <= -m else "inconclusive"
    if -m < lo and hi < m:
        return "reproduces"
    return "does not reproduce" if lo > m or hi < -m else "inconclusive"


def replicates_needed(c: Claim, effect: float | None, sd: float | None) -> int | None:
    """Roughly how many replicates (per group) would put the 95% interval on one side of
    the margin with 80% power at the observed effect and spread: the smallest n with
    (t_{0.975, n-1} + t_{0.8, n-1}) · sd / √n below the effect's distance to the margin
    (t quantiles, so small n is not underestimated as the normal approximation does)."""
    if effect is None or sd is None or not sd > 0:
        return None
    dist = c.margin - abs(effect) if c.direction == "within" else effect - _shift(c)
    if dist == 0:
        return None
    ratio = sd / abs(dist)
    z = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2) + stats.norm.ppf(POWER)
    n = max(2, int(math.ceil((z * ratio) ** 2)))  # the normal approximation: a lower bound

    def enough(k: int) -> bool:
        t = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, k - 1) + stats.t.ppf(POWER, k - 1)
        return t * ratio / math.sqrt(k) < 1

    while not enough(n) and n < 10**7:
        n += max(1, n // 20)
    return n


def _arr(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _result(**kw) -> dict:
    base = {
        "estimate": None,
        "estimate_ci": [None, None],
        "control_estimate": None,
        "control_ci": [None, None],
        "effect": None,
        "effect_ci": [None, None],
        "statistic": None,
        "statistic_name": "",
        "p_value": None,
        "n": 0,
        "n_control": 0,
        "sd": None,
        "note": "",
    }
    base.update(kw)
    return base


def _measure(c: Claim, ev: Evidence) -> dict:
    """Estimates, intervals and the test, by the claim's procedure."""
    alt = _alternative(c.direction)
    shift = _shift(c)
    ctrl = ev.control
    const = ctrl is not None and np.ndim(ctrl) == 0
    if c.test == "spearman":
        x, y = (np.asarray(v, dtype=np.float64) for v in ev.ours)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        ref = float(ctrl) if const else 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.spearmanr(x, y, alternative=alt)
            rho = float(res.statistic)
            lo, hi = _boot((x, y), _spearman, paired=True)
        return _result(
            estimate=_num(rho),
            estimate_ci=_interval(lo, hi),
            control_estimate=ref,
            effect=_num(rho - ref),
            effect_ci=_interval(lo - ref, hi - ref),
            statistic=_num(rho),
            statistic_name="Spearman rho",
            p_value=_num(res.pvalue),
            n=int(len(x)),
        )
    ours = _arr(ev.ours)
    n = len(ours)
    if n == 0:
        return _result(note="no finite replicate")
    if c.test == "binomial":
        k = int(round(ours.sum()))
        p_hat = k / n
        ci = stats.binomtest(k, n).proportion_ci(CONFIDENCE, method="wilson")
        sd = math.sqrt(p_hat * (1 - p_hat))
        if ctrl is None or const:
            ref = float(ctrl) if const else 0.0
            p0 = min(max(ref + shift, 0.0), 1.0)
            res = stats.binomtest(k, n, p0, alternative=alt)
            return _result(
                estimate=p_hat,
                estimate_ci=_interval(ci.low, ci.high),
                control_estimate=ref if const else None,
                effect=p_hat - ref,
                effect_ci=_interval(ci.low - ref, ci.high - ref),
                statistic=float(k),
                statistic_name="successes (binomial test)",
                p_value=_num(res.pvalue),
                n=n,
                sd=sd,
            )
        if ev.paired:
            return _paired_binomial(c, ev, alt)
        cc = _arr(ctrl)
        kc = int(round(cc.sum()))
        cci = stats.binomtest(kc, len(cc)).proportion_ci(CONFIDENCE, method="wilson")
        lo, hi = newcombe(k, n, kc, len(cc))
        res = stats.fisher_exact([[k, n - k], [kc, len(cc) - kc]], alternative=alt)
        return _result(
            estimate=p_hat,
            estimate_ci=_interval(ci.low, ci.high),
            control_estimate=kc / len(cc),
            control_ci=_interval(cci.low, cci.high),
            effect=p_hat - kc / len(cc),
            effect_ci=_interval(lo, hi),
            statistic=_num(res.statistic),
            statistic_name="odds ratio (Fisher's exact test)",
            p_value=_num(res.pvalue),
            n=n,
            n_control=len(cc),
            sd=sd,
        )
    est_ci = _t_ci(ours) if c.test == "t" else _boot((ours,), _mean)
    if ctrl is None or const:
        ref = float(ctrl) if const else 0.0
        d = ours - ref
        out = _result(
            estimate=float(ours.mean()),
            estimate_ci=_interval(*est_ci),
            control_estimate=ref if const else None,
            effect=float(d.mean()),
            effect_ci=_interval(est_ci[0] - ref, est_ci[1] - ref),
            n=n,
            sd=_num(np.std(d, ddof=1)) if n > 1 else None,
        )
        if c.test == "t" and n > 1 and np.std(d, ddof=1) > 0:
            res = stats.ttest_1samp(d, shift, alternative=alt)
            out.update(statistic=float(res.statistic), statistic_name="t (one-sample)")
            out.update(p_value=_num(res.pvalue))
        elif c.test == "wilcoxon" and n > 1 and np.any(d != shift):
            res = _wilcoxon(d - shift, alt)
            out.update(statistic=float(res.statistic), statistic_name="W (signed-rank)")
            out.update(p_value=_num(res.pvalue))
        return out
    cc = np.asarray(ctrl, dtype=np.float64).ravel()
    if ev.paired:
        ours_all = np.asarray(ev.ours, dtype=np.float64).ravel()
        ok = np.isfinite(ours_all) & np.isfinite(cc)
        a, b = ours_all[ok], cc[ok]
        d = a - b
        if c.test == "t":
            d_ci = _t_ci(d)
            ctrl_ci = _t_ci(b)
        else:
            d_ci = _boot((d,), _mean)
            ctrl_ci = _boot((b,), _mean)
        out = _result(
            estimate=float(a.mean()) if len(a) else None,
            estimate_ci=_interval(*(_t_ci(a) if c.test == "t" else _boot((a,), _mean))),
            control_estimate=float(b.mean()) if len(b) else None,
            control_ci=_interval(*ctrl_ci),
            effect=float(d.mean()) if len(d) else None,
            effect_ci=_interval(*d_ci),
            n=int(len(d)),
            n_control=int(len(d)),
            sd=_num(np.std(d, ddof=1)) if len(d) > 1 else None,
            note="paired",
        )
        if len(d) > 1 and np.any(d != shift):
            if c.test == "t" and np.std(d, ddof=1) > 0:
                res = stats.ttest_rel(a, b + shift, alternative=alt)
                out.update(statistic=float(res.statistic), statistic_name="t (paired)")
                out.update(p_value=_num(res.pvalue))
            elif c.test == "wilcoxon":
                res = _wilcoxon(d - shift, alt)
                out.update(statistic=float(res.statistic), statistic_name="W (signed-rank)")
                out.update(p_value=_num(res.pvalue))
        return out
    b = _arr(cc)
    pooled = (
        math.sqrt((np.var(ours, ddof=1) + np.var(b, ddof=1)) / 2) if n > 1 and len(b) > 1 else None
    )
    out = _result(
        estimate=float(ours.mean()),
        estimate_ci=_interval(*est_ci),
        control_estimate=float(b.mean()) if len(b) else None,
        control_ci=_interval(*(_t_ci(b) if c.test == "t" else _boot((b,), _mean))),
        effect=float(ours.mean() - b.mean()) if len(b) else None,
        n=n,
        n_control=int(len(b)),
        sd=_num(pooled) if pooled is not None else None,
        note="independent groups",
    )
    if n > 1 and len(b) > 1:
        if c.test == "t":
            res = stats.ttest_ind(ours, b + shift, equal_var=False, alternative=alt)
            ci = stats.ttest_ind(ours, b, equal_var=False).confidence_interval(CONFIDENCE)
            out.update(effect_ci=_interval(ci.low, ci.high))
            out.update(statistic=_num(res.statistic), statistic_name="t (Welch)")
        else:
            res = stats.mannwhitneyu(ours, b + shift, alternative=alt)
            out.update(effect_ci=_interval(*_boot((ours, b), _mean_diff)))
            out.update(statistic=float(res.statistic), statistic_name="U (Mann-Whitney)")
        out.update(p_value=_num(res.pvalue))
    return out


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """95% interval of p1 - p2 from the two Wilson score intervals (Newcombe's hybrid
    score method; scipy.stats' Wilson intervals). Unlike a bootstrap it stays honest at
    0 of n: 0 of 9 gives an upper limit near 0.3, not 0."""
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    c1 = stats.binomtest(k1, n1).proportion_ci(CONFIDENCE, method="wilson")
    c2 = stats.binomtest(k2, n2).proportion_ci(CONFIDENCE, method="wilson")
    d = p1 - p2
    lo = d - math.sqrt((p1 - c1.low) ** 2 + (c2.high - p2) ** 2)
    hi = d + math.sqrt((c1.high - p1) ** 2 + (p2 - c2.low) ** 2)
    return lo, hi


def _paired_binomial(c: Claim, ev: Evidence, alt: str) -> dict:
    """0/1 outcomes of ours and the control on the same samples: the exact McNemar test
    (a binomial test on the discordant pairs; its p-value is for a zero difference) and a
    paired bootstrap interval of the difference of proportions."""
    a = np.asarray(ev.ours, dtype=np.float64).ravel()
    b = np.asarray(ev.control, dtype=np.float64).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = len(a)
    ka, kb = int(round(a.sum())), int(round(b.sum()))
    ci_a = stats.binomtest(ka, n).proportion_ci(CONFIDENCE, method="wilson")
    ci_b = stats.binomtest(kb, n).proportion_ci(CONFIDENCE, method="wilson")
    only_a = int(np.sum((a == 1) & (b == 0)))
    only_b = int(np.sum((a == 0) & (b == 1)))
    lo, hi = _boot((a, b), _mean_diff, paired=True)
    if not hi > lo:
        # a degenerate bootstrap (e.g. no discordant pair): the unpaired score interval,
        # wider, never a zero-width interval from a handful of identical outcomes
        lo, hi = newcombe(ka, n, kb, n)
    out = _result(
        estimate=ka / n,
        estimate_ci=_interval(ci_a.low, ci_a.high),
        control_estimate=kb / n,
        control_ci=_interval(ci_b.low, ci_b.high),
        effect=(ka - kb) / n,
        effect_ci=_interval(lo, hi),
        n=n,
        n_control=n,
        sd=_num(np.std(a - b, ddof=1)) if n > 1 else None,
        note=f"paired: {only_a} samples only ours, {only_b} only the control",
    )
    if only_a + only_b:
        res = stats.binomtest(only_a, only_a + only_b, 0.5, alternative=alt)
        out.update(statistic=float(only_a), statistic_name="discordant pairs (exact McNemar)")
        out.update(p_value=_num(res.pvalue))
    return out


def magnitude(c: Claim, r: Mapping) -> str:
    """Whether the paper's own number lies inside our estimate's interval."""
    if c.paper_value is None:
        return "n/a (no paper number)"
    lo, hi = r["estimate_ci"]
    if lo is None or hi is None:
        return "n/a (no interval)"
    return "inside our interval" if lo <= c.paper_value <= hi else "outside our interval"


def _replication(c: Claim, label: str, ev: Evidence) -> dict:
    """One replication of a claim (same rule, other evidence): its estimate, effect,
    interval, n and verdict."""
    if c.comparative and ev.control is None:
        return {"label": label, "verdict": "inconclusive (no control)", "n": 0}
    r = _measure(c, ev)
    return {
        "label": label,
        "estimate": r["estimate"],
        "effect": r["effect"],
        "effect_ci": r["effect_ci"],
        "p_value": r["p_value"],
        "n": r["n"],
        "n_control": r["n_control"],
        "verdict": decide(c, *r["effect_ci"]),
        "note": ev.note,
    }


def judge(c: Claim, ctx: EvidenceContext) -> dict:
    """The verdict on one claim for a finished run (plain data for claims.json)."""
    out = c.declaration()
    if c.not_testable:
        out.update(_result(), verdict="not testable here", reason=c.not_testable)
        out.update(magnitude="n/a", replicates_needed=None)
        return out
    ev = c.evidence(ctx)
    if c.comparative and ev.control is None:
        r = _measure(c, Evidence(ours=ev.ours, control=None, note=ev.note))
        r.update(effect=None, effect_ci=[None, None], statistic=None, p_value=None)
        out.update(r, verdict="inconclusive (no control)")
        out.update(reason=f"the control ({c.control}) was not run in this config")
        out.update(magnitude=magnitude(c, r), replicates_needed=None)
        return out
    r = _measure(c, ev)
    if ev.note:
        r["note"] = "; ".join(filter(None, [r["note"], ev.note]))
    verdict = decide(c, *r["effect_ci"])
    reason = ""
    if r["effect_ci"][0] is None:
        reason = f"no interval from {r['n']} replicate(s)"
    reps = [_replication(c, label, fn(ctx)) for label, fn in c.replications]
    out["replications"] = reps
    if any(x["verdict"] != verdict for x in reps):
        reason = "; ".join(
            filter(
                None,
                [
                    reason,
                    f"the replications disagree ({verdict} here; "
                    + ", ".join(f"{x['label']}: {x['verdict']}" for x in reps)
                    + ")",
                ],
            )
        )
        verdict = "inconclusive"
    out.update(r, verdict=verdict, reason=reason, magnitude=magnitude(c, r))
    out["replicates_needed"] = (
        replicates_needed(c, r["effect"], r["sd"])
        if verdict == "inconclusive" and decide(c, *r["effect_ci"]) == "inconclusive"
        else None
    )
    return out


def summary(results: list[Mapping]) -> dict:
    """Verdict counts per paper (REFERENCES key, in the order papers first appear). A
    testable claim that holds by construction (``construction``, perhaps equivalent to
    another claim) is counted under BY_CONSTRUCTION instead of its verdict: it confirms
    nothing on its own. It keeps its verdict on the claims page."""
    out: dict[str, dict[str, int]] = {}
    for r in results:
        key = r["verdict"]
        if r.get("construction") and key != "not testable here":
            key = BY_CONSTRUCTION
        out.setdefault(r["paper"], {}).setdefault(key, 0)
        out[r["paper"]][key] += 1
    return out


__all__ = ["NO_CONTROL", "decide", "judge", "magnitude", "replicates_needed", "summary"]
