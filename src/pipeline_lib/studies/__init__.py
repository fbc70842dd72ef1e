"""The studies, one package each: ``lowdim``, ``dmm``, ``tilting``, ``shells``,
``squiggles``. A study imports core modules of :mod:`pipeline_lib` only, never another
study (tests/test_layout.py checks the import graph). Each has an ``experiment``
module (the computation), ``plots`` (its figures) and ``registry`` (its result paths and
the declarations of its figures), and ``metrics``/``checks`` where it needs them.

This package only composes: the figures of every study, in gallery order.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

STUDIES = ("lowdim", "dmm", "tilting", "shells", "squiggles")


def registry(study: str):
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; studies: {', '.join(STUDIES)}")
    return importlib.import_module(f"{__name__}.{study}.registry")


def registries(study: str) -> list:
    """A study's registry and the further registries it names (``EXTRA_REGISTRIES``:
    modules of its package that declare figures and metrics of their own, e.g. an
    ablation's, kept out of the import closure of the study's figure script)."""
    main = registry(study)
    extra = getattr(main, "EXTRA_REGISTRIES", ())
    return [main] + [importlib.import_module(f"{__name__}.{study}.{m}") for m in extra]


def all_figures(cfg: Mapping) -> list:
    """Every figure this config produces: the low-dimensional study's, the data checks
    (core), then each other study's, in the order the gallery shows them."""
    from pipeline_lib.figures import data_figures

    out = [f for r in registries("lowdim") for f in r.figures(cfg)] + data_figures(cfg)
    for study in STUDIES[1:]:
        out += [f for r in registries(study) for f in r.figures(cfg)]
    return out


def all_metric_files(cfg: Mapping) -> list[str]:
    """Every metrics.json this config writes, in the gallery's order: the low-dimensional
    study's, the data checks' (core), then each other study's."""
    data = [f"results/data/{d}_metrics.json" for d in cfg["natural"]["datasets"]]
    out = [m for r in registries("lowdim") for m in r.metric_files(cfg)] + data
    for study in STUDIES[1:]:
        out += [m for r in registries(study) for m in r.metric_files(cfg)]
    return out
