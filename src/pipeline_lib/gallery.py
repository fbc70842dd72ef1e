"""The figures/ gallery: PNGs, index.html with captions, merged metrics.json.

HTML only: what each figure shows (caption, key metrics, papers) comes from its
study's registry, passed in as plain data."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from .atomic import atomic_target
from .ledger_page import summary_table_html
from .metrics import long_form, tsv_text
from .references import REFERENCES


def key_metrics(figure: Mapping, metrics: dict) -> list[tuple[str, str]]:
    """(key, formatted value) of the metrics shown with a figure: the keys matching any
    of the figure's ``key_metrics`` regular expressions (from its study's registry)."""
    pats = [re.compile(p) for p in figure.get("key_metrics", ())]
    keys = sorted(k for k in metrics if any(p.search(k) for p in pats))
    return [(k, _fmt(metrics[k])) for k in keys]


def _fmt(v) -> str:
    if isinstance(v, dict) and "mean" in v:
        if v["mean"] is None:
            return f"n/a (no value in {len(v.get('per_seed', []))} seeds)"
        return f"{v['mean']:.4g} ± {v['std']:.2g} (n = {v['n_seeds']})"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def build_gallery(
    figures: list[str | Path],
    entries: list[Mapping],
    metrics: dict,
    out_dir,
    claims: Mapping[str, str | Path] | None = None,
) -> None:
    """Copy figures into ``out_dir`` and write index.html and metrics.json. ``entries``
    describe the figures in the same order (:meth:`pipeline_lib.figures.Figure.
    gallery_entry`: name, rule, caption, key_metrics, references). ``claims``: the
    ledger's files by name (claims.json, claims.tsv, claims.html), copied beside them;
    the page then opens with the verdict summary and links every figure to its claims."""
    with atomic_target(out_dir) as tmp:
        tmp.mkdir()
        record = None
        for name, src in (claims or {}).items():
            shutil.copy2(src, tmp / name)
            if name == "claims.json":
                record = json.loads(Path(src).read_text())
        _write(tmp, figures, entries, metrics, record)


def _claims_of(record: Mapping | None) -> dict[str, list[Mapping]]:
    out: dict[str, list[Mapping]] = {}
    for r in (record or {}).get("claims", []):
        out.setdefault(r["figure"], []).append(r)
    return out


def _contents(entries, record) -> str:
    """A contents list by paper: the figures that reproduce each paper, then the rest."""
    groups = [
        (ref.short, [e["name"] for e in entries if k in e.get("references", ())])
        for k, ref in REFERENCES.items()
    ]
    groups.append(
        ("Data checks and controls", [e["name"] for e in entries if not e.get("references")])
    )
    items = "".join(
        f"<li><b>{html.escape(title)}</b>: "
        + ", ".join(f'<a href="#{n}">{html.escape(n)}</a>' for n in names)
        + "</li>"
        for title, names in groups
        if names
    )
    head = ""
    if record is not None:
        head = (
            "<h2 id='verdicts'>Verdicts</h2><p>Every measurable claim of the papers, judged "
            "by its declared rule on this run: <a href='claims.html'>claims.html</a> "
            "(machine-readable: <a href='claims.json'>claims.json</a>, "
            "<a href='claims.tsv'>claims.tsv</a>).</p>" + summary_table_html(record)
        )
    return head + f"<h2 id='contents'>Contents</h2><ul>{items}</ul>"


def _write(tmp: Path, figures, entries, metrics: dict, record: Mapping | None = None) -> None:
    items = []
    by_figure = _claims_of(record)
    for src, fig in zip(figures, entries, strict=True):
        name = fig["name"]
        shutil.copy2(src, tmp / f"{name}.png")
        rows = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{v}</td></tr>"
            for k, v in key_metrics(fig, metrics)
        )
        table = f"<table>{rows}</table>" if rows else ""
        made_by = f"<br><small>made by rule <code>{html.escape(fig['rule'])}</code></small>"
        refs = ", ".join(
            f'<a href="#ref-{k}">{html.escape(REFERENCES[k].short)}</a>'
            for k in REFERENCES
            if k in fig.get("references", ())
        )
        made_by += f"<br><small>reproduces: {refs} (see References)</small>" if refs else ""
        links = ", ".join(
            f'<a href="claims.html#{html.escape(r["id"])}">{html.escape(r["id"])}</a> '
            f"({html.escape(r['verdict'])})"
            for r in by_figure.get(name, ())
        )
        made_by += f"<br><small>claims: {links}</small>" if links else ""
        items.append(
            f'<figure id="{name}"><h2>{html.escape(name)}</h2>'
            f'<a href="{name}.png"><img src="{name}.png" alt="{html.escape(name)}"></a>'
            f"<figcaption>{html.escape(fig['caption'])}{made_by}</figcaption>{table}</figure>"
        )
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (tmp / "metrics.tsv").write_text(tsv_text(long_form(metrics)))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Figures</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
        "figure{border-bottom:1px solid #ccc;padding-bottom:1em;margin:0}"
        "table{border-collapse:collapse;font-size:0.85em;margin-top:0.5em}"
        "td{border-bottom:1px solid #eee;padding:2px 8px}</style></head><body>"
        "<h1>Manifold-adversarial pipeline: figures</h1>"
        "<p>All numbers: <a href='metrics.json'>metrics.json</a> (mean ± sd over seeds); "
        "the single numbers in long form: <a href='metrics.tsv'>metrics.tsv</a>.</p>"
        + _contents(entries, record)
        + "".join(items)
        + "<h2 id='references'>References</h2><ul>"
        + "".join(
            f"<li id='ref-{k}'><b>{html.escape(r.short)}</b>: {html.escape(r.text())}</li>"
            for k, r in REFERENCES.items()
        )
        + "</ul></body></html>"
    )
    (tmp / "index.html").write_text(page)
