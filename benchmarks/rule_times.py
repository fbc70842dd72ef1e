"""Tabulate Snakemake's `benchmark:` files of a run: wall time, CPU time and peak memory
per rule (jobs, total, mean, max), heaviest first.

Every rule writes ``results/benchmarks/<rule>[/<wildcards>].tsv``; after ``make
figures`` this shows where the time went. Run::

    .venv/bin/python benchmarks/rule_times.py [RESULTS_DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import table  # noqa: E402


def read_benchmarks(results: Path) -> pd.DataFrame:
    """One row per job: rule (the first path part under benchmarks/; figures/* are
    figure rules, named after the file), job, s, cpu_time, max_rss (MB)."""
    root = results / "benchmarks"
    rows = []
    for tsv in sorted(root.rglob("*.tsv")):
        rel = tsv.relative_to(root)
        df = pd.read_csv(tsv, sep="\t")
        if df.empty:
            continue
        last = df.iloc[-1]  # repeated benchmarks: the last run
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if rule == "figures":
            rule = f"figure {rel.stem}"
        rows.append(
            {
                "rule": rule,
                "job": str(rel.with_suffix("")),
                "s": float(last["s"]),
                "cpu_time": float(last.get("cpu_time", float("nan"))),
                "max_rss": float(last.get("max_rss", float("nan"))),
            }
        )
    if not rows:
        raise SystemExit(f"no benchmark files under {root}: run the workflow first")
    return pd.DataFrame(rows)


def summarise(jobs: pd.DataFrame) -> pd.DataFrame:
    g = jobs.groupby("rule")
    out = pd.DataFrame(
        {
            "jobs": g.size(),
            "total_s": g["s"].sum(),
            "mean_s": g["s"].mean(),
            "max_s": g["s"].max(),
            "cpu_s": g["cpu_time"].sum(),
            "max_rss_mb": g["max_rss"].max(),
        }
    )
    return out.sort_values("total_s", ascending=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", type=Path, default=Path("results"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    jobs = read_benchmarks(args.results)
    summary = summarise(jobs)
    total = summary["total_s"].sum()
    rows = [
        [
            rule,
            str(int(r.jobs)),
            f"{r.total_s:,.0f}",
            f"{100 * r.total_s / total:.0f}%",
            f"{r.mean_s:,.1f}",
            f"{r.max_s:,.1f}",
            f"{r.cpu_s:,.0f}",
            f"{r.max_rss_mb:,.0f}",
        ]
        for rule, r in summary.iterrows()
    ]
    table(["rule", "jobs", "total s", "share", "mean s", "max s", "cpu s", "max RSS MB"], rows)
    print(
        f"\n{len(jobs)} jobs, {total:,.0f} s of job wall time in all "
        f"({total / 3600:.2f} h; the wall clock of the run is shorter when jobs ran in parallel)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary.reset_index().to_dict(orient="records"), indent=2))


if __name__ == "__main__":
    main()
