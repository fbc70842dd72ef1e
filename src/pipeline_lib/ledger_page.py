"""The ledger as pages: ``claims.json`` (the record), ``claims.html`` (one row per claim,
grouped by paper) and the README's generated snapshot (Markdown). Everything shown is
read from the judged claims (:func:`pipeline_lib.verdicts.judge`); nothing is typed."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from .atomic import atomic_target
from .ledger import BY_CONSTRUCTION, NO_CONTROL
from .references import REFERENCES

SNAPSHOT_START = "<!-- claims-snapshot:start (written by `make snapshot`; do not edit) -->"
SNAPSHOT_END = "<!-- claims-snapshot:end -->"
VERDICT_COLOURS = {
    "reproduces": "#d4edda",
    "does not reproduce": "#f8d7da",
    "inconclusive": "#fff3cd",
    "inconclusive (no control)": "#ffe8cc",
    "not testable here": "#e2e3e5",
}
# the summary's columns: the verdicts, then the claims that follow by construction from
# another claim (counted there whatever their verdict; see verdicts.summary)
SUMMARY_COLUMNS = (*VERDICT_COLOURS, BY_CONSTRUCTION)


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool | int):
        return str(x)
    return f"{x:.{digits}g}"


def interval(ci: Sequence) -> str:
    lo, hi = ci
    return "" if lo is None or hi is None else f"[{fmt(lo)}, {fmt(hi)}]"


def ours_text(r: Mapping) -> str:
    if r["verdict"] == "not testable here":
        return "–"
    unit = f"n = {r['n']} {r['unit']}"
    return f"{fmt(r['estimate'])} {interval(r['estimate_ci'])} ({unit})".replace("  ", " ")


def control_text(r: Mapping) -> str:
    if r["control_estimate"] is None:
        return r["control"]
    if r["control"] == NO_CONTROL:
        return f"none: absolute claim (reference {fmt(r['control_estimate'])})"
    ci = interval(r["control_ci"])
    return f"{r['control']}: {fmt(r['control_estimate'])} {ci}".strip()


def test_text(r: Mapping) -> str:
    if r["p_value"] is None and r["statistic"] is None:
        return r["test"]
    stat = f"{r['statistic_name']} = {fmt(r['statistic'])}" if r["statistic"] is not None else ""
    p = f"p = {fmt(r['p_value'], 2)}" if r["p_value"] is not None else ""
    return ", ".join(filter(None, [stat, p]))


def verdict_text(r: Mapping) -> str:
    out = r["verdict"]
    if r.get("replicates_needed"):
        out += f" (≈{r['replicates_needed']} {r['unit']} would decide it)"
    if r.get("reason") and r["verdict"] != "reproduces":
        out += f": {r['reason']}"
    for x in r.get("replications", ()):
        eff = (
            f"effect {fmt(x['effect'])} {interval(x['effect_ci'])}, "
            if x.get("effect") is not None
            else ""
        )
        out += f" [{x['label']}: {eff}{x['verdict']}]"
    if r.get("construction"):
        src = f" from {r['follows_from']}" if r.get("follows_from") else ""
        out += (
            f" [follows by construction{src}: {r['construction']}; not an independent confirmation]"
        )
    return out


def by_paper(results: Sequence[Mapping]) -> dict[str, list[Mapping]]:
    """Results grouped by paper, in the order of REFERENCES."""
    out: dict[str, list[Mapping]] = {}
    for key in REFERENCES:
        rows = [r for r in results if r["paper"] == key]
        if rows:
            out[key] = rows
    return out


def write_json(record: Mapping, path) -> None:
    text = json.dumps(record, indent=2, allow_nan=False) + "\n"
    with atomic_target(path) as tmp:
        Path(tmp).write_text(text)


def summary_table_html(record: Mapping, link: str = "claims.html") -> str:
    """Verdict counts per paper (the gallery's opening and the claims page's)."""
    verdicts = list(SUMMARY_COLUMNS)
    head = "".join(f"<th>{html.escape(v)}</th>" for v in verdicts)
    rows = []
    for key, counts in record["summary"].items():
        cells = "".join(f"<td>{counts.get(v, 0)}</td>" for v in verdicts)
        rows.append(
            f"<tr><td><a href='{link}#paper-{key}'>{html.escape(REFERENCES[key].short)}</a>"
            f"</td>{cells}</tr>"
        )
    return f"<table class='summary'><tr><th>paper</th>{head}</tr>{''.join(rows)}</table>"


STYLE = (
    "body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;"
    "font-size:0.85em}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}"
    "th{background:#f4f4f4}td.deviations{font-size:0.9em;max-width:24em}"
    + "".join(f"td.v-{i}{{background:{c}}}" for i, c in enumerate(VERDICT_COLOURS.values()))
)


def _row(r: Mapping, figures: set[str]) -> str:
    vi = list(VERDICT_COLOURS).index(r["verdict"])
    dev = "".join(
        f"<li>{html.escape(d['what'])} <small>({html.escape(d['reason'])})</small></li>"
        for d in r["deviations"]
    )
    fig = r["figure"]
    fig_cell = (
        f"<a href='index.html#{html.escape(fig)}'>{html.escape(fig)}</a>"
        if fig in figures
        else html.escape(fig or "–")
    )
    paper = html.escape(r["paper_text"] or "–")
    return (
        f"<tr id='{html.escape(r['id'])}'><td><b>{html.escape(r['id'])}</b><br>"
        f"<small>{html.escape(r['location'])}</small><br>{html.escape(r['statement'])}"
        f"<br><small>metric: {html.escape(r['metric'])}; rule: "
        f"{html.escape(r['decision_rule'])}</small></td>"
        f"<td>{paper}</td><td>{html.escape(ours_text(r))}</td>"
        f"<td>{html.escape(control_text(r))}</td><td>{html.escape(test_text(r))}</td>"
        f"<td class='v-{vi}'>{html.escape(verdict_text(r))}</td>"
        f"<td>{html.escape(r['magnitude'])}</td>"
        f"<td class='deviations'><ul>{dev}</ul></td><td>{fig_cell}</td></tr>"
    )


def claims_html(record: Mapping, figures: Sequence[str] = ()) -> str:
    """The verdict page: one row per claim, grouped by paper."""
    figs = set(figures)
    head = (
        "<tr><th>claim</th><th>paper says</th><th>ours [95% interval]</th><th>control</th>"
        "<th>test</th><th>verdict</th><th>paper's number vs our interval</th><th>deviations</th>"
        "<th>figure</th></tr>"
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Claims</title>"
        f"<style>{STYLE}</style></head><body><h1>Reproduction ledger</h1>",
        f"<p>Config <code>{html.escape(record['config'])}</code>, commit "
        f"<code>{html.escape(record['commit'])}</code>; scale "
        f"<code>{html.escape(json.dumps(record['scale'], sort_keys=True))}</code>. "
        "Every verdict is computed by the rule declared in the study's claims registry "
        "from the 95% interval of the effect (ours − control); p-values are one-sided in "
        "the claim's direction. Machine-readable: <a href='claims.json'>claims.json</a>; "
        "figures: <a href='index.html'>index.html</a>.</p>",
        summary_table_html(record, link=""),
    ]
    for key, rows in by_paper(record["claims"]).items():
        ref = REFERENCES[key]
        parts.append(
            f"<h2 id='paper-{key}'>{html.escape(ref.short)}</h2>"
            f"<p><small>{html.escape(ref.text())}</small></p><table>{head}"
            + "".join(_row(r, figs) for r in rows)
            + "</table>"
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def _short(text: str, n: int = 110) -> str:
    """Long paper quotes and control descriptions cut for the README (whole on the page)."""
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def snapshot_markdown(record: Mapping) -> str:
    """The README's generated snapshot: counts per paper, then per paper one row per
    judged claim, and the ids of the claims this config cannot test."""
    lines = [
        SNAPSHOT_START,
        "",
        f"Generated from `figures/claims.json` of a full run: config "
        f"`{record['config']}`, commit `{record['commit']}`. Do not edit by hand.",
        "",
        "| paper | " + " | ".join(SUMMARY_COLUMNS) + " |",
        "|---|" + "---|" * len(SUMMARY_COLUMNS),
    ]
    for key, counts in record["summary"].items():
        cells = " | ".join(str(counts.get(v, 0)) for v in SUMMARY_COLUMNS)
        lines.append(f"| {REFERENCES[key].short} | {cells} |")
    for key, rows in by_paper(record["claims"]).items():
        judged = [r for r in rows if r["verdict"] != "not testable here"]
        lines += ["", f"**{REFERENCES[key].short}**", ""]
        if judged:
            lines += ["| claim | paper | ours [95% interval] | control | verdict |"]
            lines += ["|---|---|---|---|---|"]
        for r in judged:
            cells = (
                f"`{r['id']}`",
                _short(r["paper_text"] or "–"),
                ours_text(r),
                _short(control_text(r)),
                verdict_text(r),
            )
            lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
        untestable = [r["id"] for r in rows if r["verdict"] == "not testable here"]
        if untestable:
            lines += [
                "",
                f"Not testable here ({len(untestable)}; the reason of each is on the "
                "claims page): " + ", ".join(f"`{i}`" for i in untestable) + ".",
            ]
    lines += ["", SNAPSHOT_END]
    return "\n".join(lines)


def replace_snapshot(readme: str, block: str) -> str:
    """The README with its snapshot block replaced (markers must exist once each)."""
    if readme.count(SNAPSHOT_START) != 1 or readme.count(SNAPSHOT_END) != 1:
        raise ValueError("the README must hold the claims-snapshot markers exactly once")
    head, rest = readme.split(SNAPSHOT_START)
    _, tail = rest.split(SNAPSHOT_END)
    return head + block + tail


def snapshot_block(readme: str) -> str:
    head, rest = readme.split(SNAPSHOT_START)
    body, _ = rest.split(SNAPSHOT_END)
    return SNAPSHOT_START + body + SNAPSHOT_END


TSV_COLUMNS = (
    "id", "paper", "location", "estimate", "ci_low", "ci_high", "n", "unit", "control",
    "control_estimate", "effect", "effect_low", "effect_high", "test", "statistic",
    "p_value", "verdict", "magnitude", "replicates_needed", "figure",
)  # fmt: skip


def claims_tsv(record: Mapping) -> str:
    """One row per claim, tab-separated (the Snakemake report shows it as a table)."""
    lines = ["\t".join(TSV_COLUMNS)]
    for r in record["claims"]:
        row = {
            **r,
            "paper": r["paper_short"],
            "ci_low": r["estimate_ci"][0],
            "ci_high": r["estimate_ci"][1],
            "effect_low": r["effect_ci"][0],
            "effect_high": r["effect_ci"][1],
        }
        lines.append("\t".join(_cell(row.get(c)) for c in TSV_COLUMNS))
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).replace("\t", " ").replace("\n", " ")


def write_text(text: str, path) -> None:
    with atomic_target(path) as tmp:
        Path(tmp).write_text(text)


def write_snapshot(
    claims_json, readme, snapshot_json, expect_config: str | None = "config/config.yaml"
) -> None:
    """``make snapshot``: copy a full run's claims.json to ``snapshot_json`` and rewrite
    the README's generated block from it (refuses another config than ``expect_config``)."""
    record = json.loads(Path(claims_json).read_text())
    if expect_config and record["config"] != expect_config:
        raise SystemExit(
            f"{claims_json} comes from {record['config']}, not {expect_config}: the README's "
            "snapshot is of a full default run (`make figures`)"
        )
    write_json(record, snapshot_json)
    text = Path(readme).read_text()
    write_text(replace_snapshot(text, snapshot_markdown(record)), readme)


if __name__ == "__main__":
    import sys

    write_snapshot(*sys.argv[1:4])
