"""Generate docs/config.md, the configuration key reference, from config/schema.yaml.

Run ``.venv/bin/python tests/config_reference.py`` after editing the schema;
``tests/test_docs.py`` fails while docs/config.md differs from what this produces.

Every key path is listed with its type, the values it allows, its default and its
description. Sibling sections that share one schema definition (the per-dataset
sections such as ``dmm.fashion_mnist``, ``dmm.mnist``, ``dmm.cifar10``) are listed once,
with a placeholder (``dmm.<dataset>.…``); where their defaults differ, the default
column names the exceptions. Defaults are the values a key gets when it is left out:
those of an empty config with every default filled in (``check_config({})``).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"
OUT = ROOT / "docs" / "config.md"
CONFIGS = ("config.yaml", "test.yaml", "paper.yaml", "ablations.yaml")


@dataclass
class Row:
    """One key of the reference: ``path`` may hold one placeholder (``<dataset>``)
    standing for every name in ``members``."""

    path: str
    schema: Mapping
    defaults: dict[str, Any]  # member (or "") -> effective default; missing: none
    members: dict[str, list[str]] = field(default_factory=dict)  # placeholder -> names


def _resolve(node: Mapping, root: Mapping) -> Mapping:
    """A schema node with its local ``$ref`` merged in (the node's own keys win)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target, root), **{k: v for k, v in node.items() if k != "$ref"}}


def _filled_defaults(schema: Mapping) -> dict:
    """The config an empty file gets: every default filled in (the workflow's own code)."""
    sys.path.insert(0, str(ROOT / "src"))
    from pipeline_lib.config import check_config

    return check_config({}, schema)


def _lookup(tree: Any, parts: list[str]) -> tuple[bool, Any]:
    for p in parts:
        if not isinstance(tree, Mapping) or p not in tree:
            return False, None
        tree = tree[p]
    return True, tree


def _groups(props: Mapping) -> dict[str, list[str]]:
    """Sibling properties that share one ``$ref`` (two or more): ref -> names."""
    by_ref: dict[str, list[str]] = {}
    for name, sub in props.items():
        if isinstance(sub, Mapping) and "$ref" in sub:
            by_ref.setdefault(sub["$ref"], []).append(name)
    return {ref: names for ref, names in by_ref.items() if len(names) > 1}


def _placeholder(ref: str) -> str:
    """``#/$defs/dmm_dataset`` -> ``<dataset>``."""
    return f"<{ref.rsplit('/', 1)[-1].rsplit('_', 1)[-1]}>"


def _walk(
    node: Mapping,
    root: Mapping,
    filled: Mapping,
    path: list[str],
    members: dict[str, list[str]],
) -> Iterator[Row]:
    node = _resolve(node, root)
    props = node.get("properties", {})
    grouped = _groups(props)
    done: set[str] = set()
    for name, sub in props.items():
        if name in done:
            continue
        ref = sub.get("$ref") if isinstance(sub, Mapping) else None
        if ref in grouped:
            names = grouped[ref]
            done.update(names)
            ph = _placeholder(ref)
            yield from _rows(ph, sub, root, filled, path, {**members, ph: names})
        else:
            yield from _rows(name, sub, root, filled, path, members)


def _concrete(path: list[str], members: Mapping[str, list[str]]) -> Iterator[tuple[str, list]]:
    """Every concrete path a (possibly placeholder) path stands for, with the member."""
    if not members:
        yield "", list(path)
        return
    (ph, names), *_ = members.items()  # at most one placeholder per path in this schema
    for n in names:
        yield n, [n if p == ph else p for p in path]


def _rows(name, sub, root, filled, path, members) -> Iterator[Row]:
    here = [*path, name]
    resolved = _resolve(sub, root)
    defaults = {}
    for member, parts in _concrete(here, members):
        found, value = _lookup(filled, parts)
        if found:
            defaults[member] = value
    yield Row(".".join(here), resolved, defaults, dict(members))
    if resolved.get("type") == "object":
        yield from _walk(resolved, root, filled, here, members)


def reference_rows(schema: Mapping | None = None) -> list[Row]:
    """Every key of the schema, in the schema's order."""
    schema = schema if schema is not None else yaml.safe_load(SCHEMA.read_text())
    return list(_walk(schema, schema, _filled_defaults(schema), [], {}))


def key_paths(schema: Mapping | None = None) -> set[str]:
    """Every concrete dotted key path the reference documents (placeholders expanded)."""
    out = set()
    for row in reference_rows(schema):
        for _, parts in _concrete(row.path.split("."), row.members):
            out.add(".".join(parts))
    return out


def config_key_paths(config: Any, prefix: str = "") -> Iterator[str]:
    """Every key path a config file sets (mappings are walked; lists are values)."""
    if isinstance(config, Mapping):
        for k, v in config.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            yield path
            yield from config_key_paths(v, path)


# ---------------------------------------------------------------------------- rendering


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(", ", ": "))


def _code(v: Any) -> str:
    return f"`{_value(v)}`"


def _type(s: Mapping) -> str:
    t = s.get("type", "")
    if isinstance(t, list):
        return " or ".join(t)
    if t == "array":
        item = s.get("items", {}).get("type")
        return f"array of {item}" if item else "array"
    return t


def _bounds(s: Mapping) -> list[str]:
    out = []
    for key, sym in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in s:
            out.append(f"{sym} {_value(s[key])}")
    return out


def _allowed(s: Mapping) -> str:
    bits = []
    if "enum" in s:
        bits.append("one of " + ", ".join(_code(v) for v in s["enum"]))
    bits += _bounds(s)
    if s.get("type") == "array":
        items = s.get("items", {})
        if "enum" in items:
            bits.append("items from " + ", ".join(_code(v) for v in items["enum"]))
        item_bounds = _bounds(items)
        if item_bounds:
            bits.append("items " + ", ".join(item_bounds))
        lo, hi = s.get("minItems"), s.get("maxItems")
        if lo is not None and lo == hi:
            bits.append(f"exactly {lo} items")
        else:
            if lo:
                bits.append(f"at least {lo} item{'s' if lo > 1 else ''}")
            if hi is not None:
                bits.append(f"at most {hi} items")
        if s.get("uniqueItems"):
            bits.append("no duplicates")
    if s.get("additionalProperties") is False:
        bits.append("only the keys below")
    return "; ".join(bits)


def _default(row: Row) -> str:
    if row.schema.get("type") == "object" or not row.defaults:
        return ""
    if not row.members:
        return _code(row.defaults[""])
    counts = Counter(_value(v) for v in row.defaults.values())
    common = counts.most_common(1)[0][0]
    others = [f"{m}: `{_value(v)}`" for m, v in row.defaults.items() if _value(v) != common]
    return f"`{common}`" + (" (" + "; ".join(others) + ")" if others else "")


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, and no ``<name>`` read as an HTML tag."""
    text = " ".join(text.split()).replace("|", "\\|")
    return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)


HEADER = """\
# Configuration reference

<!-- Generated from config/schema.yaml by tests/config_reference.py: do not edit by hand.
     Regenerate with `.venv/bin/python tests/config_reference.py`; tests/test_docs.py
     fails while this file and the schema disagree. -->

Every key the workflow reads, generated from `config/schema.yaml`: its type, the values
it allows, its default and its description. `config/config.yaml` is the default config
(what `make figures` runs); a `--configfile X` is overlaid on it, key by key (a list
replaces a list). The config is checked before any job is scheduled: an unknown or
misspelt key, a wrong type or an out-of-range value stops the run, each problem naming
its key and what is allowed (`pipeline_lib.config.check_config`); rules that tie
several keys together (a `figure_seed` among the `seeds`, a study's datasets among
`natural.datasets`, ...) are checked there too and listed in the study documents.

**Default** is the value a key gets when it is left out of every config file.
`config/config.yaml` sets many keys to other values (sized for a 2-core CPU; e.g.
`lowdim.train.lr` 0.001 instead of the paper's 0.02): the study documents give those.
A section's own default applies only when the whole section is left out: the CIFAR-10
defaults of `dmm.cifar10` and `shells.cifar10` (and the classes of `tilting.mnist`)
fill in a config that has no such section, while a config that sets any key under it
starts from the generic defaults shown in each row.

`<dataset>` in a key stands for each dataset of that section's list (given under its
heading); the default column names the datasets whose default differs.

Study documents: [lowdim](lowdim.md), [dmm](dmm.md), [tilting](tilting.md),
[shells](shells.md), [squiggles](squiggles.md), [natural-image data](data.md).
"""


def render(schema: Mapping | None = None) -> str:
    """The whole of docs/config.md."""
    schema = schema if schema is not None else yaml.safe_load(SCHEMA.read_text())
    rows = reference_rows(schema)
    sections: dict[str, list[Row]] = {}
    for row in rows:
        top = row.path.split(".", 1)[0]
        is_section = "." not in row.path and row.schema.get("type") == "object"
        sections.setdefault(top if is_section or "." in row.path else "", []).append(row)
    out = [HEADER]
    for top, members in sections.items():
        out.append(f"## `{top}`\n" if top else "## Top level\n")
        lists = {}
        for r in members:
            lists.update(r.members)
        for ph, names in lists.items():
            out.append(f"`{ph}`: " + ", ".join(f"`{n}`" for n in names) + ".\n")
        out.append("| key | type | allowed | default | description |")
        out.append("|---|---|---|---|---|")
        for r in members:
            out.append(
                f"| `{r.path}` | {_type(r.schema)} | {_cell(_allowed(r.schema))} | "
                f"{_cell(_default(r))} | {_cell(r.schema.get('description', ''))} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/config.md (or the path given) from config/schema.yaml."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
