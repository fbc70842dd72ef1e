"""The natural-image DMM ablations' registry (config ``dmm.ablations``): result paths,
metrics files and figures of the sweeps in rules/dmm_ablations.smk.

Imported when the Snakefile is parsed: nothing numerical at module level.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.figures import Figure


def metric_files(cfg: Mapping) -> list[str]:
    """The metrics.json files of the configured ablations (none when none is configured)."""
    return []


def figures(cfg: Mapping) -> list[Figure]:
    """The figures of the configured ablations."""
    return []
