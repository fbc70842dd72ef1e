"""Rule figure_dmm_ablation: one figure of the natural-image DMM ablations, as the
ablation registry declares it (wildcard ``figure``; what it draws: params ``draw``)."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm.ablation_registry import draw

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    viz.save(draw(smk.params.draw["kind"], smk.input, smk.params.draw["params"]), smk.output[0])
    log.info("wrote %s", smk.output[0])
