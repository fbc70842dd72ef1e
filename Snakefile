import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from pipeline_lib.config import check_config
from pipeline_lib.resources import limit_local_cores

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


# Clear, key-naming errors first; then Snakemake's own validation (fills defaults).
# check_config returns every mapping with sorted keys, so the order keys are written in
# a config file never changes rule params (and never triggers a rerun).
_checked = check_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
config.clear()
config.update(_checked)
validate(config, "config/schema.yaml")
# Locally, never more busy threads than CPUs (a --cores above them is lowered).
limit_local_cores(workflow, lambda msg: print(f"note: {msg}", file=sys.stderr))


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/lowdim.smk"
include: "rules/dmm.smk"
include: "rules/tilting.smk"
include: "rules/shells.smk"
include: "rules/squiggles.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        "figures",
