"""The reproduction ledger's declarations: what each study claims to test, and how.

Every study's ``claims`` module (next to its figure ``registry``) returns one
:class:`Claim` per measurable claim of its paper for a config. A claim is data, fixed
before any result is looked at: the paper's statement and number, the metric, the
control, the unit of replication, the statistical procedure and the decision rule
(direction and smallest effect that counts), the deviations from the paper's protocol
that apply to this config, and the figure that shows it. Its ``evidence`` function
turns a finished run (merged metrics and stores) into replicate values;
:mod:`pipeline_lib.verdicts` computes the verdict from them.

This module is imported when the Snakefile is parsed: it imports no numerical library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .references import REFERENCES

# The statistical procedures of :mod:`pipeline_lib.verdicts`, by the unit they suit:
# "t"            per-seed (or per-batch) numbers: one-sample / paired / Welch t-test,
#                t interval of the mean (difference);
# "wilcoxon"     per-sample numbers within a model, vs a constant or a paired control:
#                Wilcoxon signed-rank test, bootstrap interval of the mean difference;
# "mannwhitney"  two independent groups of samples: Mann-Whitney U, bootstrap interval
#                of the difference of means;
# "binomial"     0/1 outcomes per sample: exact binomial test vs a constant (Wilson
#                interval), Fisher's exact test vs a control group (Newcombe's
#                interval of the difference), or the exact McNemar test vs a paired
#                control (same samples; paired bootstrap interval);
# "spearman"     a monotone trend over a sweep: Spearman's rho, bootstrap interval.
TESTS = ("t", "wilcoxon", "mannwhitney", "binomial", "spearman")
# "greater": the effect exceeds +margin; "less": it is below -margin; "within": it lies
# inside (-margin, +margin) (the claim is that two things are about equal); "at_least":
# it exceeds -margin (ours is not worse than the control by more than the margin: a
# non-inferiority claim, e.g. "as similar as" a baseline, where more is no failure).
DIRECTIONS = ("greater", "less", "within", "at_least")
VERDICTS = (
    "reproduces",
    "does not reproduce",
    "inconclusive",
    "inconclusive (no control)",
    "not testable here",
)
NO_CONTROL = "none: absolute claim"
# Summary column of the claims that follow by construction from another claim (counted
# there, whatever their verdict, and not among the independent confirmations).
BY_CONSTRUCTION = "follows by construction"


@dataclass(frozen=True)
class Deviation:
    """A way this config's protocol differs from the paper's, with its reason."""

    what: str
    reason: str


@dataclass(frozen=True)
class Evidence:
    """Replicate values of one claim, from a finished run.

    ``ours``: the replicates of the measured quantity (a list of numbers; 0/1 for the
    binomial test; for "spearman" a pair of lists, x then y). ``control``: the control's
    replicates (paired with ``ours`` when ``paired``), a constant reference value, or
    None when the control was not run (a comparative claim then cannot be judged).
    """

    ours: object
    control: object = None
    paired: bool = False
    note: str = ""


@dataclass(frozen=True)
class Claim:
    """One measurable claim of a paper, as this config tests it.

    ``effect`` is ``ours - control`` (the estimate minus the control's estimate or the
    constant reference). The rule: with direction "greater" the claim reproduces when
    the whole 95% interval of the effect lies above ``margin``, does not reproduce when
    it lies below, and is inconclusive when it straddles it ("less" mirrors this at
    ``-margin``; "within" asks the interval to lie inside ``(-margin, margin)``).
    """

    id: str
    paper: str  # a key of pipeline_lib.references.REFERENCES
    location: str  # section / figure / table of the paper
    statement: str  # the claim, in one sentence, in the paper's sense
    metric: str  # what is measured, in words
    metric_keys: tuple[str, ...]  # keys of the merged metrics.json it is judged on
    control: str  # the control or baseline, in words, or NO_CONTROL
    unit: str  # the unit of replication: seeds, images, curves, batches, ...
    test: str  # one of TESTS
    direction: str  # one of DIRECTIONS
    margin: float = 0.0  # the smallest effect that counts (>= 0)
    paper_value: float | None = None  # the paper's own number, on our metric's scale
    paper_text: str = ""  # the paper's number(s) as the paper states them
    deviations: tuple[Deviation, ...] = ()
    figure: str = ""  # the figure that shows it (a figure name of the registries)
    inputs: tuple[str, ...] = ()  # stores the evidence reads besides the metrics
    evidence: Callable | None = None  # (EvidenceContext) -> Evidence
    not_testable: str = ""  # why this config cannot test it (then no evidence is read)
    study: str = ""
    # why this claim holds (or is decided) by construction of the method rather than by
    # an independent measurement, and the claim (id) it is equivalent to or implied by,
    # if the ledger has one: judged as usual, but counted under BY_CONSTRUCTION, not as a
    # confirmation of its own
    construction: str = ""
    follows_from: str = ""
    # the same measurement under other defensible protocol choices (label, evidence
    # function): each is judged by the same rule, and the claim's verdict is theirs only
    # when all agree with the main one, else "inconclusive" (the choice decides it)
    replications: tuple[tuple[str, Callable], ...] = ()

    def __post_init__(self) -> None:
        if self.paper not in REFERENCES:
            raise ValueError(f"claim {self.id}: unknown paper {self.paper!r}")
        if self.test not in TESTS:
            raise ValueError(f"claim {self.id}: unknown test {self.test!r}; tests: {TESTS}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"claim {self.id}: unknown direction {self.direction!r}")
        if not self.margin >= 0:
            raise ValueError(f"claim {self.id}: margin must be >= 0, got {self.margin}")
        if self.follows_from and not self.construction:
            raise ValueError(
                f"claim {self.id}: follows_from needs its construction (why it follows)"
            )
        if self.follows_from == self.id:
            raise ValueError(f"claim {self.id}: follows_from names the claim itself")
        labels = [lab for lab, _ in self.replications]
        if len(set(labels)) != len(labels) or not all(labels):
            raise ValueError(f"claim {self.id}: replication labels must be unique and non-empty")
        if not self.not_testable and self.evidence is None:
            raise ValueError(f"claim {self.id}: no evidence function and not marked untestable")

    @property
    def comparative(self) -> bool:
        return self.control != NO_CONTROL

    def declaration(self) -> dict:
        """The claim as plain data (what claims.json records beside the result)."""
        return {
            "id": self.id,
            "study": self.study,
            "paper": self.paper,
            "paper_short": REFERENCES[self.paper].short,
            "location": self.location,
            "statement": self.statement,
            "paper_value": self.paper_value,
            "paper_text": self.paper_text,
            "metric": self.metric,
            "metric_keys": list(self.metric_keys),
            "control": self.control,
            "unit": self.unit,
            "test": self.test,
            "decision_rule": decision_rule(self),
            "direction": self.direction,
            "margin": self.margin,
            "deviations": [{"what": d.what, "reason": d.reason} for d in self.deviations],
            "figure": self.figure,
            "not_testable": self.not_testable,
            "construction": self.construction,
            "follows_from": self.follows_from,
            "replication_labels": [lab for lab, _ in self.replications],
        }


def decision_rule(c: Claim) -> str:
    rule = _rule(c)
    if c.replications:
        rule += (
            f"; judged the same way under {', '.join(lab for lab, _ in c.replications)}: "
            "the verdict stands only where they all agree, else inconclusive"
        )
    return rule


def _rule(c: Claim) -> str:
    ref = "the control" if c.comparative else "the reference"
    if c.direction == "within":
        return (
            f"reproduces if the 95% interval of ours - {ref} lies inside ±{c.margin:g}; "
            f"does not if it lies wholly outside"
        )
    if c.direction == "at_least":
        return (
            f"reproduces if the 95% interval of ours - {ref} lies wholly > {-c.margin:g} "
            f"(not worse by more than {c.margin:g}); does not if it lies wholly at or below"
        )
    sign = ">" if c.direction == "greater" else "<"
    m = c.margin if c.direction == "greater" else -c.margin
    return (
        f"reproduces if the 95% interval of ours - {ref} lies wholly {sign} {m:g}; "
        f"does not if it lies wholly on the other side"
    )


def tagged(study: str, claims: Iterable[Claim]) -> list[Claim]:
    """The claims with their study set (registries declare them without it)."""
    from dataclasses import replace

    return [replace(c, study=study) for c in claims]


def index(claims: Iterable[Claim]) -> dict[str, Claim]:
    out: dict[str, Claim] = {}
    for c in claims:
        if c.id in out:
            raise ValueError(f"claim {c.id!r} declared twice")
        out[c.id] = c
    for c in out.values():
        if c.follows_from and c.follows_from not in out:
            raise ValueError(
                f"claim {c.id!r} follows from {c.follows_from!r}, which is not declared"
            )
    return out


def inputs(claims: Iterable[Claim]) -> list[str]:
    """Every store the claims' evidence reads (sorted, no duplicates)."""
    return sorted({p for c in claims if not c.not_testable for p in c.inputs})


def dataset_deviation(dataset: str, paper_datasets: str) -> tuple[Deviation, ...]:
    """The dataset deviation every natural-image claim carries off the paper's data."""
    return (
        Deviation(
            f"dataset: {dataset} instead of {paper_datasets}",
            "Fashion-MNIST is the natural-image dataset available offline here; compare "
            "directions and ratios, not values",
        ),
    )


@dataclass
class EvidenceContext:
    """What an evidence function reads: the merged metrics and the run's stores."""

    metrics: Mapping
    config: Mapping
    _stores: dict = field(default_factory=dict)

    def metric(self, key: str):
        if key not in self.metrics:
            raise KeyError(f"metric {key!r} is not in the run's metrics")
        return self.metrics[key]

    def per_seed(self, key: str) -> list[float]:
        """The finite per-seed values of a statistic over seeds."""
        v = self.metric(key)
        return [x for x in v["per_seed"] if x is not None]

    def value(self, key: str) -> float:
        v = self.metric(key)
        return v["mean"] if isinstance(v, Mapping) else v

    def store(self, path: str):
        """A Zarr store of the run, opened lazily once."""
        if path not in self._stores:
            import xarray as xr

            self._stores[path] = xr.open_zarr(path)
        return self._stores[path]
