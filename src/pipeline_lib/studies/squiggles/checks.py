"""Config checks of the Squiggles study that the JSON schema cannot express
(relations between keys). Called by :func:`pipeline_lib.config.check_config`; every
message names the key, what is wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping


def errors(cfg: Mapping) -> list[str]:
    sq = cfg.get("squiggles", {})
    variants = sq.get("variants", [])
    errs = []
    for v in sq.get("analysis_variants", []):
        if v not in variants:
            errs.append(
                f"config key 'squiggles.analysis_variants': {v!r} is not in squiggles.variants "
                f"{variants}; allowed: a subset of squiggles.variants"
            )
    if sq.get("analysis_variants") and len(variants) < 2:
        errs.append(
            "config key 'squiggles.variants': the distance to the true boundary is steered by "
            "a model of the other variant, so analysis needs both; allowed: [taylor, sinenet] "
            "(or set squiggles.analysis_variants to [])"
        )
    if variants and 0.0 not in [float(s) for s in sq.get("noise_sigmas", [])]:
        errs.append(
            f"config key 'squiggles.noise_sigmas': {sq.get('noise_sigmas')} has no 0.0; "
            "allowed: a list containing 0.0 (the vanilla model every experiment compares to)"
        )
    att = sq.get("attack", {})
    pe = [float(e) for e in att.get("pixel_eps", [])]
    fe = att.get("focus_eps")
    if fe is not None and pe and not any(abs(fe - e) <= 1e-9 * max(1.0, e) for e in pe):
        errs.append(
            f"config key 'squiggles.attack.focus_eps': {fe} is not in squiggles.attack.pixel_eps "
            f"{pe}; allowed: one of pixel_eps"
        )
    loss = att.get("loss")
    if loss is not None and loss in sq.get("ablations", {}).get("attack_loss", []):
        errs.append(
            f"config key 'squiggles.ablations.attack_loss': {loss!r} is squiggles.attack.loss, "
            "which the default attacks already use; allowed: the other objectives"
        )
    sw = sq.get("size_sweep") or {}
    if sw.get("fractions") and sq.get("analysis_variants"):
        n_sw = sw.get("n_samples", 0)
        if n_att_main := att.get("n_samples"):
            if n_sw > n_att_main:
                errs.append(
                    f"config key 'squiggles.size_sweep.n_samples': {n_sw} is more than "
                    f"squiggles.attack.n_samples ({n_att_main}), the main models' attacked "
                    f"curves (the sweep's point at n_train); allowed: 1..{n_att_main}"
                )
        if not any(float(g) > 0 for g in sq.get("noise_sigmas", [])):
            errs.append(
                "config key 'squiggles.size_sweep.fractions': the sweep compares the sigma-0 "
                "model with a noise-trained one, and squiggles.noise_sigmas has none; allowed: "
                "a noise level above 0 in squiggles.noise_sigmas, or fractions: []"
            )
    rs = sq.get("resolution_study") or {}
    if rs.get("factors") and sq.get("analysis_variants"):
        main_seeds = {int(x) for x in sq.get("seeds", [])}
        missing = [x for x in rs.get("seeds", [0]) if int(x) not in main_seeds]
        if missing:
            errs.append(
                f"config key 'squiggles.resolution_study.seeds': {missing} not in "
                f"squiggles.seeds {sorted(main_seeds)}, whose main models are the study's "
                "base-resolution point; allowed: seeds of squiggles.seeds"
            )
        n_rs, n_att_main = rs.get("n_samples", 0), att.get("n_samples")
        if n_att_main and n_rs > n_att_main:
            errs.append(
                f"config key 'squiggles.resolution_study.n_samples': {n_rs} is more than "
                f"squiggles.attack.n_samples ({n_att_main}), the main models' attacked curves "
                f"(the study's base point); allowed: 1..{n_att_main}"
            )
        if not any(float(g) > 0 for g in sq.get("noise_sigmas", [])):
            errs.append(
                "config key 'squiggles.resolution_study.factors': the study compares the "
                "sigma-0 model with a noise-trained one, and squiggles.noise_sigmas has none; "
                "allowed: a noise level above 0 in squiggles.noise_sigmas, or factors: []"
            )
    n_att, n_test = att.get("n_samples"), sq.get("n_test")
    if n_att is not None and n_test is not None and n_att > n_test:
        errs.append(
            f"config key 'squiggles.attack.n_samples': {n_att} is more than squiggles.n_test "
            f"({n_test}); allowed: 1..{n_test}"
        )
    dist = sq.get("distance", {})
    n_mis, n_cor = dist.get("n_misclassified"), dist.get("n_correct")
    if n_cor is not None and (n_mis is None or n_cor < n_mis):
        errs.append(
            f"config key 'squiggles.distance.n_correct': {n_cor} may be fewer than the "
            f"misclassified curves measured (n_misclassified {n_mis}); allowed: null (as many "
            "as misclassified ones) or at least n_misclassified (an integer)"
        )
    n_dec = sq.get("decomposition", {}).get("n_samples")
    if n_dec is not None and n_att is not None and n_dec > n_att:
        errs.append(
            f"config key 'squiggles.decomposition.n_samples': {n_dec} is more than "
            f"squiggles.attack.n_samples ({n_att}); allowed: 1..{n_att}"
        )
    return errs
