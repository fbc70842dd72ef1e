from pathlib import Path

from snakemake.utils import min_version, validate

from pipeline_lib.config import check_config

min_version("9.0")


configfile: "config/config.yaml"


# Clear, key-naming errors first; then Snakemake's own validation (fills defaults).
config.update(check_config(config, Path(workflow.basedir) / "config" / "schema.yaml"))
validate(config, "config/schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/lowdim.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        "figures",
