"""Figure declarations: what every study's registry says about each of its figures.

A study's ``registry.figures(config)`` returns one :class:`Figure` per figure the config
produces. Everything the workflow needs about a figure is read from it: the rule's
inputs, the drawing's parameters, the gallery caption and key metrics, the report
caption and category, and the papers it reproduces. This module is imported when the
Snakefile is parsed: it (and every registry) imports no numerical library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .references import REFERENCES

FIGURE_DIR = "results/figures"


@dataclass(frozen=True)
class Figure:
    """One figure (a PNG under ``results/figures/``, copied into ``figures/``).

    ``name`` is the file stem, ``rule`` the rule that draws it, ``kind`` what the
    study's ``draw`` does for it (its registry's ``PLOTS[kind]`` names the plotting
    function of the study's ``plots`` module). ``inputs``
    are the rule's named inputs (a path or a list of paths each); ``params`` the config
    values the drawing uses (plain data, so a change reruns the figure).
    ``key_metrics`` are regular expressions over the keys of the merged metrics.json
    (shown under the figure); ``references`` keys of
    :data:`pipeline_lib.references.REFERENCES`; ``paper`` where in the paper the figure
    is ("data check" for data checks, empty for controls the paper lacks).
    """

    name: str
    rule: str
    kind: str
    caption: str
    category: str
    inputs: Mapping[str, str | list[str]] = field(default_factory=dict)
    params: Mapping = field(default_factory=dict)
    key_metrics: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    paper: str = ""
    subcategory: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.references) - set(REFERENCES)
        if unknown:
            raise ValueError(f"figure {self.name}: unknown references {sorted(unknown)}")
        for pattern in self.key_metrics:
            re.compile(pattern)

    @property
    def path(self) -> str:
        return f"{FIGURE_DIR}/{self.name}.png"

    def gallery_entry(self) -> dict:
        """What the gallery shows (plain data: a rule param)."""
        return {
            "name": self.name,
            "rule": self.rule,
            "caption": self.caption,
            "key_metrics": list(self.key_metrics),
            "references": list(self.references),
        }

    def report_caption(self) -> str:
        """The caption with the full references, for the Snakemake report."""
        refs = " ".join(f"{REFERENCES[r].short}: {REFERENCES[r].text()}" for r in self.references)
        return self.caption + (f" Reproduces: {refs}" if refs else "")


def index(figures: Iterable[Figure]) -> dict[str, Figure]:
    """Figures by name; a name declared twice is an error."""
    out: dict[str, Figure] = {}
    for f in figures:
        if f.name in out:
            raise ValueError(f"figure {f.name!r} declared twice")
        out[f.name] = f
    return out


def names_regex(figures: Iterable[Figure], rule: str) -> str:
    """A wildcard constraint matching exactly the names of ``rule``'s figures (never
    empty: a rule with no figure matches nothing)."""
    names = sorted({f.name for f in figures if f.rule == rule})
    return "|".join(re.escape(n) for n in names) or "(?!)"


def data_figures(config: Mapping) -> list[Figure]:
    """The data-check figure of each prepared natural-image dataset (core, not a study)."""
    return [
        Figure(
            name=f"data_{d}_samples",
            rule="figure_natural_samples",
            kind="samples",
            caption=f"Random training images per class of the prepared {d} subset (data check).",
            category="Data",
            paper="data check",
            subcategory=d,
            inputs={"data": f"results/data/{d}.zarr"},
            key_metrics=(rf"^data/{re.escape(d)}/",),
        )
        for d in config["natural"]["datasets"]
    ]
