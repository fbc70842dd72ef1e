"""Configuration checking: JSON-Schema validation with messages that name the key.

The workflow calls :func:`check_config` before any job is scheduled. Errors are
collected (not just the first) and each names the dotted key, the offending
value and what the schema allows.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator


class ConfigError(ValueError):
    """Raised when a configuration does not satisfy the schema or a cross-key rule."""


def load_yaml(path: str | Path) -> Any:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _resolve(schema: Mapping, root: Mapping) -> Mapping:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if ref is None:
        return schema
    if not ref.startswith("#/"):
        raise ConfigError(f"schema uses a non-local $ref {ref!r}; only '#/...' is supported")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    merged = {k: v for k, v in schema.items() if k != "$ref"}
    return {**_resolve(node, root), **merged}


def _subschema(root: Mapping, path: list) -> Mapping | None:
    node: Mapping = _resolve(root, root)
    for part in path:
        if isinstance(part, int):
            node = _resolve(node.get("items", {}), root)
        else:
            props = node.get("properties", {})
            if part not in props:
                return None
            node = _resolve(props[part], root)
    return node


def _key(path) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else p)
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else "." + p
    return out or "<top level>"


def _allowed(schema: Mapping | None) -> str:
    if not schema:
        return ""
    bits = []
    if "enum" in schema:
        bits.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    elif "type" in schema:
        t = schema["type"]
        bits.append(" or ".join(t) if isinstance(t, list) else t)
    if "minimum" in schema:
        bits.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bits.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        bits.append(f"<= {schema['maximum']}")
    if "exclusiveMaximum" in schema:
        bits.append(f"< {schema['exclusiveMaximum']}")
    if schema.get("type") == "array":
        items = schema.get("items", {})
        if "enum" in items:
            bits.append("items from " + ", ".join(repr(v) for v in items["enum"]))
        if "minItems" in schema:
            bits.append(f"at least {schema['minItems']} item(s)")
        if schema.get("uniqueItems"):
            bits.append("no duplicates")
    text = "allowed: " + ", ".join(bits) if bits else ""
    if schema.get("description"):
        text += f" ({schema['description']})" if text else schema["description"]
    return text


def _format_error(err, root: Mapping) -> str:
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        parent = _subschema(root, path) or {}
        known = sorted(parent.get("properties", {}))
        extra = (
            [k for k in err.instance if k not in known] if isinstance(err.instance, dict) else []
        )
        msgs = []
        for k in extra:
            where = _key(path + [k])
            hint = difflib.get_close_matches(k, known, n=1)
            did = f"; did you mean {_key(path + [hint[0]])!r}?" if hint else ""
            msgs.append(
                f"config key {where!r} is not a known key{did}; "
                f"allowed keys under {_key(path)!r}: {', '.join(known)}"
            )
        return "\n".join(msgs)
    sub = _subschema(root, path)
    allowed = _allowed(sub)
    return f"config key {_key(path)!r}: {err.message}" + (f"; {allowed}" if allowed else "")


def _fill_defaults(instance: Any, schema: Mapping, root: Mapping) -> None:
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        for name, sub in schema.get("properties", {}).items():
            sub = _resolve(sub, root)
            if name not in instance and "default" in sub:
                instance[name] = copy.deepcopy(sub["default"])
            if name in instance:
                _fill_defaults(instance[name], sub, root)


def _cross_checks(cfg: Mapping) -> list[str]:
    errs = []
    low = cfg.get("lowdim", {})
    epochs = low.get("train", {}).get("epochs")
    for e in low.get("snapshot_epochs", []):
        if epochs is not None and e > epochs:
            errs.append(
                f"config key 'lowdim.snapshot_epochs': epoch {e} is after the last training "
                f"epoch; allowed: integers in 0..lowdim.train.epochs ({epochs})"
            )
    errs += _figure_seed_errors("lowdim", low)
    for name in cfg.get("natural", {}).get("datasets", []):
        ds = cfg["natural"].get(name, {})
        if ds.get("data_dir") == "":
            errs.append(
                f"config key 'natural.{name}.data_dir' is an empty string; "
                "allowed: a directory path or null"
            )
    errs += _dmm_checks(cfg)
    errs += _tilting_checks(cfg)
    errs += _shells_checks(cfg)
    errs += _squiggles_checks(cfg)
    return errs


def _figure_seed_errors(section: str, sub: Mapping) -> list[str]:
    seeds, fs = sub.get("seeds", []), sub.get("figure_seed")
    if seeds and fs is not None and fs not in seeds:
        return [
            f"config key '{section}.figure_seed': {fs} is not one of the run seeds; "
            f"allowed: one of {section}.seeds {seeds}"
        ]
    return []


def _dmm_checks(cfg: Mapping) -> list[str]:
    errs = []
    dmm = cfg.get("dmm", {})
    nat = cfg.get("natural", {})
    errs += _figure_seed_errors("dmm", dmm)
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


def _prepared_errors(section: str, datasets, nat: Mapping) -> list[str]:
    return [
        f"config key '{section}.datasets': {name!r} is not prepared; allowed: datasets "
        f"listed in natural.datasets {nat.get('datasets', [])}"
        for name in datasets
        if name not in nat.get("datasets", [])
    ]


def _tilting_checks(cfg: Mapping) -> list[str]:
    til = cfg.get("tilting", {})
    nat = cfg.get("natural", {})
    errs = _prepared_errors("tilting", til.get("datasets", []), nat)
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


def _shells_checks(cfg: Mapping) -> list[str]:
    sh = cfg.get("shells", {})
    nat = cfg.get("natural", {})
    errs = _prepared_errors("shells", sh.get("datasets", []), nat)
    errs += _figure_seed_errors("shells", sh)
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


def _squiggles_checks(cfg: Mapping) -> list[str]:
    sq = cfg.get("squiggles", {})
    variants = sq.get("variants", [])
    errs = []
    for v in sq.get("analysis_variants", []):
        if v not in variants:
            errs.append(
                f"config key 'squiggles.analysis_variants': {v!r} is not in squiggles.variants "
                f"{variants}; allowed: a subset of squiggles.variants"
            )
    if sq.get("analysis_variants") and len(variants) < 2:
        errs.append(
            "config key 'squiggles.variants': the distance to the true boundary is steered by "
            "a model of the other variant, so analysis needs both; allowed: [taylor, sinenet] "
            "(or set squiggles.analysis_variants to [])"
        )
    if variants and 0.0 not in [float(s) for s in sq.get("noise_sigmas", [])]:
        errs.append(
            f"config key 'squiggles.noise_sigmas': {sq.get('noise_sigmas')} has no 0.0; "
            "allowed: a list containing 0.0 (the vanilla model every experiment compares to)"
        )
    att = sq.get("attack", {})
    pe = [float(e) for e in att.get("pixel_eps", [])]
    fe = att.get("focus_eps")
    if fe is not None and pe and not any(abs(fe - e) <= 1e-9 * max(1.0, e) for e in pe):
        errs.append(
            f"config key 'squiggles.attack.focus_eps': {fe} is not in squiggles.attack.pixel_eps "
            f"{pe}; allowed: one of pixel_eps"
        )
    n_att, n_test = att.get("n_samples"), sq.get("n_test")
    if n_att is not None and n_test is not None and n_att > n_test:
        errs.append(
            f"config key 'squiggles.attack.n_samples': {n_att} is more than squiggles.n_test "
            f"({n_test}); allowed: 1..{n_test}"
        )
    n_dec = sq.get("decomposition", {}).get("n_samples")
    if n_dec is not None and n_att is not None and n_dec > n_att:
        errs.append(
            f"config key 'squiggles.decomposition.n_samples': {n_dec} is more than "
            f"squiggles.attack.n_samples ({n_att}); allowed: 1..{n_att}"
        )
    return errs


def check_config(config: Mapping, schema: Mapping | str | Path) -> dict:
    """Validate ``config`` against ``schema`` and return a copy with defaults filled in.

    Raises :class:`ConfigError` listing every problem, each naming its key.
    """
    if not isinstance(schema, Mapping):
        schema = load_yaml(schema)
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"the configuration must be a mapping of keys, got {type(config).__name__}"
        )
    cfg = copy.deepcopy(dict(config))
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    msgs = [_format_error(e, schema) for e in errors]
    if not msgs:
        _fill_defaults(cfg, schema, schema)
        # defaults may nest; validate again with everything filled in
        msgs = [_format_error(e, schema) for e in validator.iter_errors(cfg)]
    if not msgs:
        msgs = _cross_checks(cfg)
    if msgs:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(msgs))
    return _sorted(cfg)


def _sorted(obj: Any) -> Any:
    """Mappings with keys in sorted order, recursively: the order keys are written in a
    config file must not change rule params (Snakemake reruns a job when they do)."""
    if isinstance(obj, Mapping):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj
