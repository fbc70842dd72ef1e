"""Config checks of the low-dimensional DMM study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.config import figure_seed_errors


def errors(cfg: Mapping) -> list[str]:
    low = cfg.get("lowdim", {})
    errs = []
    epochs = low.get("train", {}).get("epochs")
    for e in low.get("snapshot_epochs", []):
        if epochs is not None and e > epochs:
            errs.append(
                f"config key 'lowdim.snapshot_epochs': epoch {e} is after the last training "
                f"epoch; allowed: integers in 0..lowdim.train.epochs ({epochs})"
            )
    return errs + figure_seed_errors("lowdim", low)
