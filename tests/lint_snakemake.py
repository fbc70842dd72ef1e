"""`make lint`'s Snakemake step: `snakemake --lint` must report nothing but the one lint
this workflow answers differently, "Specify a conda environment or container for each
rule": the software of every rule is the locked environment (requirements/default.lock,
installed by `make setup`), not a per-rule conda env or container.

Usage: python tests/lint_snakemake.py SNAKEMAKE [snakemake args...]
"""

import re
import subprocess
import sys

ACCEPTED = "Specify a conda environment or container for each rule."


def remaining_lints(text: str) -> list[str]:
    """``where: title`` of every lint in Snakemake's text report but the accepted one."""
    out, where = [], "?"
    for line in text.splitlines():
        head = re.match(r"^Lints for (.+):$", line)
        if head:
            where = head.group(1)
            continue
        item = re.match(r"^    \* (.+?):?$", line)
        if item and item.group(1) != ACCEPTED:
            out.append(f"{where}: {item.group(1)}")
    return out


def main() -> int:
    res = subprocess.run([*sys.argv[1:], "--lint"], capture_output=True, text=True)
    text = res.stdout + res.stderr
    if res.returncode != 0 and "Lints for" not in text:
        print(text, file=sys.stderr)  # snakemake itself failed (parse error, bad config)
        return res.returncode
    lints = remaining_lints(text)
    for lint in lints:
        print(lint, file=sys.stderr)
    print(f"snakemake --lint: {len(lints)} lint(s) besides the locked-environment one")
    return 1 if lints else 0


if __name__ == "__main__":
    sys.exit(main())
