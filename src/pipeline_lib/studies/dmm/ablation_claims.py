"""Claims judged on the natural-image DMM ablations (config ``dmm.ablations``)."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.ledger import Claim


def claims(cfg: Mapping) -> list[Claim]:
    """The claims of the configured ablations (none when none is configured)."""
    return []
