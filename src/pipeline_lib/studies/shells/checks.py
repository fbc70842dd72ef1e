"""Config checks of the model-shell study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.config import figure_seed_errors, prepared_errors


def errors(cfg: Mapping) -> list[str]:
    sh = cfg.get("shells", {})
    nat = cfg.get("natural", {})
    errs = prepared_errors("shells", sh.get("datasets", []), nat)
    errs += figure_seed_errors("shells", sh)
    for name in sh.get("datasets", []):
        if name not in nat.get("datasets", []):
            continue
        n_test = nat.get(name, {}).get("n_test")
        need = sh.get("n_batches", 0) * sh.get("batch_size", 0)
        if n_test is not None and need > n_test:
            errs.append(
                f"config key 'shells.n_batches': {sh['n_batches']} batches of "
                f"{sh['batch_size']} need {need} correctly classified test points but "
                f"natural.{name}.n_test is {n_test}; allowed: n_batches * batch_size <= n_test"
            )
        ds = sh.get(name, {})
        for key in ("attack", "adaptive", "adversarial_training", "mcn"):
            sub = ds.get(key, {})
            radius = sub.get("delta", sub.get("eps", ds.get("attack", {}).get("eps")))
            if "step" in sub and radius is not None and sub["step"] > radius:
                errs.append(
                    f"config key 'shells.{name}.{key}.step': {sub['step']} is larger than the "
                    f"radius it moves in ({radius}); allowed: 0 < step <= radius"
                )
        alphas = ds.get("ncn", {}).get("alphas", [])
        if any(b <= a for a, b in zip(alphas[:-1], alphas[1:], strict=True)):
            errs.append(
                f"config key 'shells.{name}.ncn.alphas': {alphas} is not increasing; "
                "allowed: a strictly increasing list of penalty weights"
            )
    return errs
