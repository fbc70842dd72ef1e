"""The papers whose experiments the pipeline reproduces: one list, used by the gallery's
References section and the figure captions (gallery and Snakemake report). The README's
"References" section and CITATION.cff's ``references`` repeat it for readers and
citation tools; a test checks that all three agree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    short: str  # the name captions and the README use
    authors: tuple[str, ...]  # full names, in the paper's order
    year: int
    title: str
    venue: str
    identifier: str = ""  # e.g. an arXiv id
    url: str = ""
    note: str = ""

    def text(self) -> str:
        """One line: Authors (year). Title. Venue, identifier. Note."""
        parts = [f"{', '.join(self.authors)} ({self.year}). {self.title}. {self.venue}"]
        if self.identifier:
            parts[0] += f", {self.identifier}"
        if self.url:
            parts.append(self.url)
        if self.note:
            parts.append(self.note)
        return ". ".join(parts) + "."


REFERENCES: dict[str, Reference] = {
    "dmm": Reference(
        short="DMM",
        authors=("Adi Shamir", "Odelia Melamed", "Oriel BenShmuel"),
        year=2021,
        title="The Dimpled Manifold Model of Adversarial Examples in Machine Learning",
        venue="arXiv preprint",
        identifier="arXiv:2106.10151",
        url="https://arxiv.org/abs/2106.10151",
        note="Sections, figures and appendices as numbered in the revised version",
    ),
    "squiggles": Reference(
        short="Squiggles",
        authors=("Pieter-Jan Kindermans", "Charles Staats"),
        year=2022,
        title="When adversarial examples are excusable",
        venue="arXiv preprint",
        identifier="arXiv:2204.11985",
        url="https://arxiv.org/abs/2204.11985",
    ),
    "wu": Reference(
        short="Wu et al.",
        authors=("Xi Wu", "Uyeong Jang", "Lingjiao Chen", "Somesh Jha"),
        year=2022,
        title="Manifold Assumption and Defenses Against Adversarial Perturbations",
        venue="Preprint",
        url=(
            "https://github.com/adversarial-perturbation-defense/"
            "anonymous-adversarial-perturbation-defense"
        ),
        note="Year: the date printed on the version reproduced (July 29, 2022); URL: its code",
    ),
    "tanay_griffin": Reference(
        short="Tanay & Griffin",
        authors=("Thomas Tanay", "Lewis Griffin"),
        year=2016,
        title="A Boundary Tilting Perspective on the Phenomenon of Adversarial Examples",
        venue="arXiv preprint",
        identifier="arXiv:1608.07690",
        url="https://arxiv.org/abs/1608.07690",
    ),
    "tilting_article": Reference(
        short="Tilting article",
        authors=("Thomas Tanay",),
        year=2018,
        title="Adversarial Examples, Explained",
        venue="Web article (KDnuggets)",
        url="https://www.kdnuggets.com/2018/10/adversarial-examples-explained.html",
        note="Summarises Tanay & Griffin (2016); its figure numbers are the ones cited",
    ),
}
