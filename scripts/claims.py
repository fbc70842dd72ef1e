"""Rule claims: judge every claim of the studies' claims registries on this run."""

from pipeline_lib import ledger_page
from pipeline_lib.ledger import EvidenceContext
from pipeline_lib.metrics import merge_metrics
from pipeline_lib.provenance import git_state
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.ledger import all_claims, scale
from pipeline_lib.verdicts import judge, summary

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    cfg = smk.params.config
    ctx = EvidenceContext(metrics=merge_metrics(smk.input.metrics), config=cfg)
    results = []
    for claim in all_claims(cfg):
        results.append(judge(claim, ctx))
        log.info("%s: %s", claim.id, results[-1]["verdict"])
    record = {
        "config": smk.params.config_name,
        "commit": git_state()["git_describe"],
        "scale": scale(cfg),
        "summary": summary(results),
        "claims": results,
    }
    ledger_page.write_json(record, smk.output.json)
    ledger_page.write_text(ledger_page.claims_tsv(record), smk.output.tsv)
    html = ledger_page.claims_html(record, figures=smk.params.figures)
    ledger_page.write_text(html, smk.output.html)
