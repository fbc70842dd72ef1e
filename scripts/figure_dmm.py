"""Rule figure_dmm: one natural-image DMM figure (which one: wildcard ``what``)."""

from pipeline_lib import viz
from pipeline_lib.runtime import rule_context
from pipeline_lib.studies.dmm import plots as dmm_plots
from pipeline_lib.studies.dmm.experiment import group
from pipeline_lib.zarr_io import open_store

smk = snakemake  # noqa: F821
with rule_context(smk) as log:
    p, i, what = smk.params, smk.input, smk.wildcards.what
    names = [str(c) for c in open_store(i.data).class_name.values]
    n_show = p.gallery_samples

    def runs(key, by):
        return group(getattr(i, key), by, p.seeds, open_store)

    def gallery_store(attacks):
        """The figure seed's store of the first attacked variant (clean when present)."""
        return attacks[p.attack_variants[0]][p.seeds.index(p.figure_seed)]

    if what == "autoencoder":
        fig = dmm_plots.autoencoder_figure(open_store(i.autoencoder), open_store(i.tangents))
    elif what == "ratios":
        fig = dmm_plots.ratio_figure(runs("attacks", p.attack_variants))
    elif what == "projections":
        attacks = runs("attacks", p.attack_variants)
        fig = dmm_plots.projection_gallery(
            gallery_store(attacks), open_store(i.tangents), n_show=n_show, class_names=names
        )
    elif what == "onoff":
        attacks = runs("attacks", p.attack_variants)
        fig = dmm_plots.onoff_figure(
            attacks, gallery_store(attacks), n_show=n_show, class_names=names
        )
    elif what == "clinging":
        fig = dmm_plots.clinging_figure(
            runs("distances", p.variants), runs("trainings", p.variants)
        )
    elif what == "adv_training":
        fig = dmm_plots.adv_training_figure(runs("attacks", p.attack_variants))
    elif what == "mislabeled":
        fig = dmm_plots.mislabeled_figure(runs("mislabeled", p.schemes))
    elif what == "linf_l2":
        attacks = runs("attacks", p.attack_variants)
        fig = dmm_plots.linf_l2_figure(gallery_store(attacks), n_show=n_show)
    else:
        raise ValueError(f"unknown DMM figure {what!r}")
    viz.save(fig, smk.output[0])
    log.info("wrote %s", smk.output[0])
