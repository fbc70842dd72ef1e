"""Rule gallery: assemble figures/ (PNGs, index.html, metrics.json)."""

from pipeline_lib.gallery import build_gallery
from pipeline_lib.metrics import merge_metrics
from pipeline_lib.runtime import rule_context

smk = snakemake  # noqa: F821
with rule_context(smk):
    build_gallery(
        list(smk.input.figures),
        list(smk.params.figures),
        merge_metrics(smk.input.metrics),
        smk.output[0],
        claims={
            "claims.json": smk.input.claims,
            "claims.tsv": smk.input.claims_tsv,
            "claims.html": smk.input.claims_html,
        },
    )
