"""The reproduction ledger of every study: each study's ``claims`` module (next to its
figure ``registry``) declares its claims; this module only composes them, in the
gallery's study order. Imported when the Snakefile is parsed: nothing numerical."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from pipeline_lib import ledger

from . import STUDIES


def study_claims(study: str, cfg: Mapping) -> list[ledger.Claim]:
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; studies: {', '.join(STUDIES)}")
    module = importlib.import_module(f"{__package__}.{study}.claims")
    return ledger.tagged(study, module.claims(cfg))


def all_claims(cfg: Mapping) -> list[ledger.Claim]:
    """Every claim this config judges (untestable ones included), by study; ids unique."""
    out = [c for study in STUDIES for c in study_claims(study, cfg)]
    ledger.index(out)
    return out


def scale(cfg: Mapping) -> dict:
    """The sizes the verdicts rest on (seeds per study, natural-image subsets)."""
    out: dict = {s: {"seeds": len(cfg[s]["seeds"])} for s in STUDIES if "seeds" in cfg[s]}
    out["natural"] = {
        d: {k: cfg["natural"][d][k] for k in ("n_train", "n_test") if k in cfg["natural"][d]}
        for d in cfg["natural"]["datasets"]
    }
    return out
