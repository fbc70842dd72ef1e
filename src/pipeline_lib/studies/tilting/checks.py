"""Config checks of the boundary-tilting study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.config import prepared_errors


def errors(cfg: Mapping) -> list[str]:
    til = cfg.get("tilting", {})
    nat = cfg.get("natural", {})
    errs = prepared_errors("tilting", til.get("datasets", []), nat)
    lams = til.get("lambdas", {})
    if "min" in lams and "max" in lams and not lams["min"] < lams["max"]:
        errs.append(
            f"config key 'tilting.lambdas.min': {lams['min']} is not below tilting.lambdas.max "
            f"({lams['max']}); allowed: 0 < min < max"
        )
    for name in til.get("datasets", []):
        if name not in nat.get("datasets", []):
            continue
        have = nat.get(name, {}).get("classes", [])
        two = til.get(name, {}).get("classes", [])
        missing = [c for c in two if c not in have]
        if missing:
            errs.append(
                f"config key 'tilting.{name}.classes': classes {missing} are not in "
                f"natural.{name}.classes; allowed: two of {have}"
            )
    toy = til.get("toy", {})
    if "lam_low" in toy and "lam_high" in toy and not toy["lam_low"] < toy["lam_high"]:
        errs.append(
            f"config key 'tilting.toy.lam_low': {toy['lam_low']} is not below "
            f"tilting.toy.lam_high ({toy['lam_high']}); allowed: lam_low < lam_high"
        )
    return errs
