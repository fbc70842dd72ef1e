"""Seconds per unit of work of each rule that `pipeline_lib.costs` sizes, from a run's
`benchmark:` files: for every job, its wall seconds over the units its config and
wildcards give; per rule the largest ratio (the job that cost most per unit).

Run on the results of a fresh-clone run (nothing else on the machine), then copy the
printed table into ``pipeline_lib.costs.SECONDS_PER_UNIT``::

    .venv/bin/python benchmarks/unit_costs.py RESULTS_DIR CONFIG [--rules DIR]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from pipeline_lib import costs
from pipeline_lib.config import check_config, load_yaml

ROOT = Path(__file__).resolve().parents[1]


def benchmark_patterns(rules_dir: Path) -> dict[str, re.Pattern]:
    """rule -> regex of its benchmark file path (wildcards as named groups)."""
    out = {}
    for f in sorted(rules_dir.glob("*.smk")):
        for block in re.split(r"\n(?=rule )", f.read_text()):
            m = re.match(r"rule (\w+):", block)
            b = re.search(r"benchmark:\s*\n\s*\"([^\"]+)\"", block)
            if not (m and b):
                continue
            pat = re.escape(b.group(1))
            pat = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+?)", pat)
            out[m.group(1)] = re.compile(pat + "$")
    return out


def unit_costs(results: Path, cfg: dict, rules_dir: Path) -> dict[str, float]:
    pats = benchmark_patterns(rules_dir)
    per_rule: dict[str, float] = {}
    for rule in costs.UNITS:
        pat = pats.get(rule)
        if pat is None:
            continue
        for tsv in sorted((results / "benchmarks" / rule).glob("*.tsv")):
            m = pat.search(str(Path("results") / tsv.relative_to(results)))
            if m is None:
                continue
            seconds = float(pd.read_csv(tsv, sep="\t")["s"].iloc[-1])
            units = costs.UNITS[rule](cfg, m.groupdict())
            if units > 0:
                per_rule[rule] = max(per_rule.get(rule, 0.0), seconds / units)
    return per_rule


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("config", type=Path)
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    args = ap.parse_args()
    cfg = check_config(load_yaml(args.config), ROOT / "config" / "schema.yaml")
    for rule, v in sorted(unit_costs(args.results, cfg, args.rules).items()):
        print(f'    "{rule}": {v:.3g},')


if __name__ == "__main__":
    main()
