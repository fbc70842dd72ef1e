"""Configuration checking: JSON-Schema validation with messages that name the key.

The workflow calls :func:`check_config` before any job is scheduled. Errors are
collected (not just the first) and each names the dotted key, the offending
value and what the schema allows.
"""

from __future__ import annotations

import copy
import difflib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from .studies import STUDIES


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
    """Relations between keys: the natural datasets' here, each study's in its
    ``checks`` module (``pipeline_lib.studies.<study>.checks.errors``)."""
    errs = []
    for name in cfg.get("natural", {}).get("datasets", []):
        ds = cfg["natural"].get(name, {})
        if ds.get("data_dir") == "":
            errs.append(
                f"config key 'natural.{name}.data_dir' is an empty string; "
                "allowed: a directory path or null"
            )
        if name == "imagenet" and ds.get("download"):
            errs.append(
                "config key 'natural.imagenet.download': ImageNet cannot be downloaded "
                "(its licence needs a login); allowed: false, with the files in data_dir"
            )
    for study in STUDIES:
        errs += importlib.import_module(f"pipeline_lib.studies.{study}.checks").errors(cfg)
    return errs


def figure_seed_errors(section: str, sub: Mapping) -> list[str]:
    """A study's ``figure_seed`` must be one of its run seeds."""
    seeds, fs = sub.get("seeds", []), sub.get("figure_seed")
    if seeds and fs is not None and fs not in seeds:
        return [
            f"config key '{section}.figure_seed': {fs} is not one of the run seeds; "
            f"allowed: one of {section}.seeds {seeds}"
        ]
    return []


def prepared_errors(section: str, datasets, nat: Mapping) -> list[str]:
    """A study's datasets must be prepared (listed in ``natural.datasets``)."""
    return [
        f"config key '{section}.datasets': {name!r} is not prepared; allowed: datasets "
        f"listed in natural.datasets {nat.get('datasets', [])}"
        for name in datasets
        if name not in nat.get("datasets", [])
    ]


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
