"""Config checks of the natural-image DMM study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.config import figure_seed_errors


def errors(cfg: Mapping) -> list[str]:
    errs = []
    dmm = cfg.get("dmm", {})
    nat = cfg.get("natural", {})
    errs += figure_seed_errors("dmm", dmm)
    for name in dmm.get("datasets", []):
        if name not in nat.get("datasets", []):
            errs.append(
                f"config key 'dmm.datasets': {name!r} is not prepared; allowed: datasets "
                f"listed in natural.datasets {nat.get('datasets', [])}"
            )
            continue
        spec = nat.get(name, {})
        n_test = spec.get("n_test")
        for key in ("n_samples", "distance_samples"):
            if n_test is not None and dmm.get(key, 0) > n_test:
                errs.append(
                    f"config key 'dmm.{key}': {dmm[key]} is more than natural.{name}.n_test "
                    f"({n_test}); allowed: 1..{n_test}"
                )
        two = dmm.get("mislabeled", {}).get("two_classes", [])
        many = len(spec.get("classes", [])) > 2
        if many and "two_class" in dmm.get("mislabeled", {}).get("schemes", []):
            missing = [c for c in two if c not in spec.get("classes", [])]
            if missing:
                errs.append(
                    f"config key 'dmm.mislabeled.two_classes': classes {missing} are not in "
                    f"natural.{name}.classes; allowed: two of {spec.get('classes')}"
                )
    return errs
