import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

# The library next to this Snakefile is the one the rules run and the one their code
# digests hash (a copy of the workflow with its own src/ runs its own code): it goes
# first on the path of this process and of every job it starts.
_SRC = Path(workflow.basedir) / "src"
if (_SRC / "pipeline_lib").is_dir():
    sys.path.insert(0, str(_SRC))
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            [str(_SRC), *filter(None, [os.getenv("PYTHONPATH")])]
        )
    )

from pipeline_lib import codedigest, datafiles
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
# Datasets whose store is still to be made and whose files are missing: every call says
# so (a dry run still lists the jobs), and a real run stops before its first job with
# what to put where (natural_dataset's own message, without waiting for the jobs before).
_MISSING_DATA = []
if workflow.is_main_process:
    _MISSING_DATA = datafiles.config_problems(
        config, lambda name: Path(f"results/data/{name}.zarr").is_dir()
    )
    for _msg in _MISSING_DATA:
        print(f"note: a run stops before its first job: {_msg}", file=sys.stderr)


onstart:
    if _MISSING_DATA:
        raise WorkflowError(
            "missing dataset files:\n"
            + "\n".join(f"  - {m}" for m in _MISSING_DATA)
        )


# Locally, never more busy threads than CPUs (a --cores above them is lowered).
limit_local_cores(workflow, lambda msg: print(f"note: {msg}", file=sys.stderr))


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/lowdim.smk"
include: "rules/dmm.smk"
include: "rules/dmm_ablations.smk"
include: "rules/tilting.smk"
include: "rules/shells.smk"
include: "rules/squiggles.smk"
include: "rules/claims.smk"
include: "rules/gallery.smk"


# Cheap rules (figures, summaries, the gallery, the verdicts: seconds each) run on the
# submitting host under a cluster executor instead of as one queued job each.
localrules:
    claims,
    gallery,
    dmm_summary,
    dmm_ablation_summary,
    lowdim_summary,
    lowdim_ablation_summary,
    shells_summary,
    squiggles_summary,
    squiggles_loss_summary,
    squiggles_size_summary,
    squiggles_res_summary,
    tilting_summary,
    figure_natural_samples,
    figure_dmm,
    figure_dmm_ablation,
    figure_lowdim,
    figure_shells,
    figure_squiggles,
    figure_tilting,


rule all:
    default_target: True
    input:
        "figures",


# Code-aware reruns: every script rule gets a `code` param, the digest of its script and
# of every pipeline_lib module the script imports (transitively; docstrings, comments and
# formatting excluded). Snakemake's params trigger then reruns exactly the jobs whose code
# changed, and `snakemake --summary` marks their outputs "params changed". Parsed modules
# are cached by content in .snakemake/ (a run with no code change parses nothing).
_DIGESTS = Path(".snakemake") / "pipeline_lib-code-digests.json"
codedigest.load_cache(_DIGESTS)
for _rule in workflow.rules:
    if _rule.script:
        _script = _rule.basedir.join(_rule.script).get_path_or_uri(secret_free=True)
        _rule.set_params(code=codedigest.script_digest(_script))
codedigest.save_cache(_DIGESTS)
