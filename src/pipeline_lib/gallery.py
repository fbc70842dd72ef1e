"""The figures/ gallery: PNGs, index.html with captions, merged metrics.json."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from .references import REFERENCES, figure_references

CAPTIONS = {
    "dmm_lowdim_clinging": (
        "Clinging curves (DMM Sec. 6; the paper shows no such curve for its synthetic runs). "
        "Top: mean Euclidean distance from the manifold to the decision boundary after each "
        "snapshot epoch; middle: mean angle between the input gradient at the training points and "
        "the manifold (90° = perpendicular; dashed = isotropic random direction); bottom: "
        "training accuracy. Mean ± sd over seeds, for clean training, single-step L2 PGD "
        "adversarial training and the random-label control."
    ),
    "dmm_lowdim_boundary_2d": (
        "DMM Fig. 5a: the 1D decision boundary (zero level of the logit) in [0,1]^2 at each "
        "snapshot epoch, light grey = early, black = late; green = data manifold; red/blue = "
        "training points of the two classes."
    ),
    "dmm_lowdim_height_maps": (
        "DMM Fig. 5b / Fig. 1 (right): for the plane z = 0.5 in [0,1]^3, the height z(x,y) of "
        "the decision boundary above or below each point of the manifold, per epoch, as a "
        "topographic map (black contour: z = 0.5); bottom: the final boundary in 3D."
    ),
    "dmm_lowdim_gradients": (
        "DMM Fig. 24 / App. E.1: normalised input gradients of the logit at the training points "
        "after the last epoch (arrows), with the decision boundary. The paper says these point "
        "roughly perpendicular to the manifold; the title gives the measured mean angle."
    ),
    "dmm_lowdim_adversarial": (
        "DMM Fig. 3: final boundaries of a clean network and of the same network (same "
        "initialisation) adversarially trained with single-step L2 PGD. Dimple depth = mean "
        "|offset along the normal| from the training points to the boundary."
    ),
    "dmm_lowdim_random_labels": (
        "Control the paper lacks: the same network and points, trained on random labels. If "
        "clinging came from the data manifold alone, the boundary would cling here too."
    ),
}


# Natural-image DMM figures, one set per dataset: dmm_<dataset>_<what>.
DMM_CAPTIONS = {
    "autoencoder": (
        "The manifold model M (DMM App. D.3, G): test images (top) and their autoencoder "
        "reconstructions; distribution of the per-image L2 reconstruction distance (the paper "
        "reports a mean of 2.1 on MNIST) and the training loss."
    ),
    "ratios": (
        "DMM Table 1 / App. E.2 as distributions: R(d, M) = |d| / |Proj_M d| for greedy L2 PGD "
        "perturbations d, next to two controls the paper lacks: the same d on a random k-dim "
        "subspace, and a Gaussian random vector on M (App. I; the paper's reference sqrt(n/k) "
        "and the exact RMS sqrt(1 + (n-k)/(k-2)) marked); the on-manifold relative effect E; "
        "and the on-manifold share of the input gradient (random: sqrt(k/n))."
    ),
    "projections": (
        "DMM Fig. 7, 9-17: x, x + d, x + Proj_M d and x + (d - Proj_M d) with the perturbations "
        "amplified to [0, 1], and the logits along the straight paths from x to each end point "
        "(source and adversarial class)."
    ),
    "onoff": (
        "DMM Table 2 and Fig. 8, 18-23: distances of regular, on-manifold and off-manifold "
        "greedy L2 PGD (App. F; on-manifold step 10x) per classifier, with success rates, and "
        "a gallery of the three attacks on the same images."
    ),
    "clinging": (
        "DMM Fig. 6 on this dataset: mean L2 distance from test images to the decision boundary "
        "after every epoch (mean ± sd over seeds), with the random-label control and the "
        "adversarially trained network; test accuracy per epoch."
    ),
    "adv_training": (
        "DMM Sec. 5.1: clean vs adversarially trained classifier. The paper predicts deeper "
        "dimples (larger off-manifold distances) and a larger on-manifold share of the input "
        "gradient after adversarial training."
    ),
    "mislabeled": (
        "DMM Sec. 5.2 (Ilyas et al.): N2 trained only on N1's targeted adversarial examples, "
        "labelled with their targets (det: y+1, rand: random other class, two_class), scored "
        "on the clean test set; control: the same target labels on unperturbed images."
    ),
    "linf_l2": (
        "DMM App. H: greedy L2 and L-inf PGD perturbations on the same images, amplified to "
        "[0, 1]; share of each perturbation's energy on object pixels (uniform noise would put "
        "the object-pixel share there)."
    ),
}
DMM_KEY_METRICS = {
    "autoencoder": [r"/(autoencoder_test_l2|autoencoder_test_mse|tangent_fd_min_cosine|k)$"],
    "ratios": [
        r"-\w+/(norm_ratio|norm_ratio_random_subspace|norm_ratio_random_vector)$",
        r"-\w+/(on_manifold_relative_effect|gradient_on_manifold_share)$",
        r"/(sqrt_n_over_k|rms_random_ratio_exact)$",
    ],
    "projections": [r"-\w+/(full|on|off)_projection_flip_rate$", r"-\w+/pgd_success_rate$"],
    "onoff": [r"-\w+/(regular|on|off)_pgd_distance$", r"-\w+/on_over_off_distance$"],
    "clinging": [r"-\w+/boundary_distance_(initial|min|final)$", r"-\w+/test_accuracy$"],
    "adv_training": [r"/adversarial_over_clean_\w+$"],
    "mislabeled": [r"-mislabeled_\w+/(n2_test_accuracy|control_test_accuracy|n1_target_rate)$"],
    "linf_l2": [r"-\w+/(l2_object_share|linf_object_share|object_pixel_share)$"],
}


# Boundary tilting (Tanay & Griffin): tilting_<dataset>_<what> and tilting_toy.
TILTING_CAPTIONS = {
    "angle": (
        "Tilting article Fig. 6: tilting angle between the SVM normal w and the centroid "
        "difference z_hat, mean/median L2 distance of test points to the boundary, accuracy "
        "and the probe perturbation's cosine with the centroid difference, against the L2 "
        "regularisation lambda (log scale)."
    ),
    "plane": (
        "Tilting article Fig. 5: training images projected on the tilting plane (z_hat, n_hat) "
        "at low and high regularisation, with the SVM boundary; the weakly regularised "
        "boundary is tilted towards the data and passes close to it."
    ),
    "perturbation": (
        "Tilting article: the minimal adversarial perturbation of one test image along the "
        "lambda sweep (amplified per image, and signed); at low lambda it looks like noise, "
        "at high lambda like the centroid difference (last panel)."
    ),
}
TILTING_KEY_METRICS = {
    "angle": [
        r"/(tilting_angle_deg|mean_test_distance|test_accuracy)_(low|high)_reg$",
        r"/(angle_spearman_log_lam|best_test_accuracy|best_lam)$",
    ],
    "plane": [r"/tilting_angle_deg_(low|high)_reg$"],
    "perturbation": [r"/perturbation_cosine_(low|high)_reg$", r"/claim_cosine_to_1$"],
}
SHELLS_SUCCESS_CAPTION = (
    "Wu et al. Table 1 with an adaptive attack the paper lacks: attack success rate of "
    "L-inf PGD (eps 8/255) on the base model, on the MCN/NCN-shelled model when the attack "
    "is crafted on the base (transfer, the paper's protocol) and when it targets the shell "
    "itself (BPDA through the shell's search); retained clean accuracy. Dots: batches of "
    "correctly classified test images (paper: 30); bars: mean over batches and seeds."
)
SHELLS_GALLERY_CAPTION = (
    "Wu et al. Fig. 1/2: test points the shell gets wrong: the original image, the shell's "
    "embedding of it, the base model's adversarial example and the shell's embedding of "
    "that, with predictions and confidences."
)


SQUIGGLES_CAPTIONS = {
    "examples": (
        "Squiggles Fig. 1 (SineNet) / Fig. 20 (Taylor): random test curves of each class, "
        "the computed self-intersection marked (Fig. 27); the title gives the label shares "
        "(Table 4)."
    ),
    "generalization": (
        "Squiggles Table 6: accuracy and ROC-AUC of the sigma-0 models within and across "
        "variants, and test accuracy per epoch of every classifier (noise-trained included)."
    ),
    "latent": (
        "Squiggles Fig. 9: latent-space (on-manifold) L2 PGD on the sigma-0 model, 100 "
        "steps of eps/25 by default: accuracy against the true label recomputed after the "
        "attack, and the fraction of curves whose true label did not change, per eps."
    ),
    "distance": (
        "Squiggles Fig. 8 a-c: cumulative fraction of attacked test curves within a latent "
        "distance of the true decision boundary (smallest eps at which the attack steered "
        "by the other variant's model flips the true label), for all curves, misclassified "
        "curves and adversarial errors of (a) the latent attack, (b) pixel PGD on the "
        "sigma-0 model and (c) pixel PGD on the noise-trained model."
    ),
    "pixel": (
        "Squiggles Fig. 10: accuracy under pixel-space L2 PGD (solid) and under Gaussian "
        "noise of the same L2 norm (dashed) for models trained with each pixel-noise sigma; "
        "dotted line: the focus eps."
    ),
    "decomposition": (
        "Squiggles Fig. 11: attack vectors (latent attack rendered in pixel space, pixel "
        "PGD on each model) split into their component in the tangent space of the curve "
        "manifold (through the generator's Jacobian) and the rest; bottom: on-manifold "
        "share against a random subspace of equal rank."
    ),
    "errors": (
        "Squiggles Fig. 7 a-d: generalization errors of the sigma-0 model, latent-space "
        "errors that keep the true label, pixel-space errors of the sigma-0 and of the "
        "noise-trained model; self-intersections marked."
    ),
}
SQUIGGLES_KEY_METRICS = {
    "examples": [r"_self_intersecting_fraction$"],
    "generalization": [r"/(test|cross_\w+)_(accuracy|roc_auc)$"],
    "latent": [r"/latent_(best_eps|min_accuracy|unchanged_at_best|accuracy_monotone)$"],
    "distance": [r"/distance_\w+_(below_min_eps|median)$"],
    "pixel": [r"/pixel_(pgd|noise)_accuracy_at_focus$", r"/noise_training_explained_fraction$"],
    "decomposition": [
        r"_on_manifold_share_median$",
        r"_random_subspace_share_median$",
        r"_(on|off)_component_fools$",
        r"/tangent_rank_median$",
    ],
    "errors": [r"-sigma[\d.]+/test_accuracy$", r"/pixel_pgd_accuracy_at_focus$"],
}


def _squiggles_name(name: str) -> tuple[str, str] | None:
    """``squiggles_<variant>_<what>`` / ``squiggles_generalization`` -> (variant, what)."""
    if name == "squiggles_generalization":
        return "", "generalization"
    if name.startswith("squiggles_"):
        parts = name[len("squiggles_") :].split("_", 1)
        if len(parts) == 2 and parts[1] in SQUIGGLES_CAPTIONS:
            return parts[0], parts[1]
    return None


def _dmm_name(name: str) -> tuple[str, str] | None:
    """``dmm_<dataset>_<what>`` -> (dataset, what) for the natural-image DMM figures."""
    for what in DMM_CAPTIONS:
        suffix = f"_{what}"
        if name.startswith("dmm_") and name.endswith(suffix) and name != f"dmm_lowdim{suffix}":
            ds = name[len("dmm_") : -len(suffix)]
            if ds and ds != "lowdim":
                return ds, what
    return None


def caption_for(name: str) -> str:
    if name in CAPTIONS:
        return CAPTIONS[name]
    dmm = _dmm_name(name)
    if dmm is not None:
        return f"{dmm[0]}: {DMM_CAPTIONS[dmm[1]]}"
    if name == "tilting_toy":
        return (
            "Tilting article Fig. 3/4: the same two classes (bars) in 2-D and embedded in "
            "high dimension, each classifier drawn in its own tilting plane: weakly and "
            "strongly regularised SVMs and a hand-tilted boundary that still separates the "
            "training data."
        )
    if name.startswith("tilting_"):
        ds, what = name[len("tilting_") :].rsplit("_", 1)
        return f"{ds}: {TILTING_CAPTIONS[what]}"
    if name.startswith("shells_") and name.endswith("_success"):
        return f"{name[len('shells_') : -len('_success')]}: {SHELLS_SUCCESS_CAPTION}"
    if name.startswith("shells_") and name.endswith("_gallery"):
        ds, base, shell = name[len("shells_") : -len("_gallery")].rsplit("_", 2)
        if base == "adv":  # linf_adv splits in two
            ds, base = ds.rsplit("_", 1)[0], "linf_adv"
        return f"{ds}, {base} base, {shell.upper()} shell: {SHELLS_GALLERY_CAPTION}"
    sq = _squiggles_name(name)
    if sq is not None:
        return f"{sq[0]}: {SQUIGGLES_CAPTIONS[sq[1]]}" if sq[0] else SQUIGGLES_CAPTIONS[sq[1]]
    if name.startswith("data_") and name.endswith("_samples"):
        ds = name[len("data_") : -len("_samples")]
        return f"Random training images per class of the prepared {ds} subset (data check)."
    return name


# Key metrics shown under each figure: regular expressions over metric keys.
KEY_METRICS = {
    "dmm_lowdim_clinging": [r"/[a-z]+-\w+/boundary_distance_(initial|final)$"],
    "dmm_lowdim_boundary_2d": [r"/(line|diagonal)-clean/(boundary_distance_final|train_accuracy)$"],
    "dmm_lowdim_height_maps": [
        r"/plane-clean/(boundary_distance_final|dimple_depth|train_accuracy)$"
    ],
    "dmm_lowdim_gradients": [r"-clean/gradient_angle_deg$", r"/random_direction_angle_deg$"],
    "dmm_lowdim_adversarial": [
        r"/dimple_depth_ratio_adversarial_over_clean$",
        r"-(clean|adversarial)/(dimple_depth|gradient_angle_deg)$",
    ],
    "dmm_lowdim_random_labels": [
        r"-random_labels/(boundary_distance_final|train_accuracy|test_accuracy)$"
    ],
}


def key_metrics(name: str, metrics: dict) -> list[tuple[str, str]]:
    """(key, formatted value) of the metrics shown with figure ``name``."""
    if name in KEY_METRICS:
        pats = [re.compile(p) for p in KEY_METRICS[name]]
        keys = [k for k in metrics if any(p.search(k) for p in pats)]
    elif name.startswith("data_") and name.endswith("_samples"):
        ds = name[len("data_") : -len("_samples")]
        keys = [k for k in metrics if k.startswith(f"data/{ds}/")]
    elif _dmm_name(name) is not None:
        ds, what = _dmm_name(name)
        pats = [re.compile(p) for p in DMM_KEY_METRICS[what]]
        keys = [
            k
            for k in metrics
            if (k.startswith(f"dmm_natural/{ds}/") or k.startswith(f"dmm_natural/{ds}-"))
            and any(p.search(k) for p in pats)
        ]
    elif name == "tilting_toy":
        pat = re.compile(r"^tilting/toy-[^/]+/(tilting_angle_deg|test_accuracy)$")
        keys = [k for k in metrics if pat.search(k)]
    elif name.startswith("tilting_"):
        ds, what = name[len("tilting_") :].rsplit("_", 1)
        pats = [re.compile(p) for p in TILTING_KEY_METRICS.get(what, [])]
        keys = [
            k for k in metrics if k.startswith(f"tilting/{ds}/") and any(p.search(k) for p in pats)
        ]
    elif name.startswith("shells_") and name.endswith("_success"):
        ds = name[len("shells_") : -len("_success")]
        pat = re.compile(r"/(base_attack_success_rate|\w+_(transfer|adaptive)_success_rate)$")
        keys = [k for k in metrics if k.startswith(f"shells/{ds}-") and pat.search(k)]
    elif _squiggles_name(name) is not None:
        v, what = _squiggles_name(name)
        pats = [re.compile(p) for p in SQUIGGLES_KEY_METRICS[what]]
        keys = [
            k for k in metrics if k.startswith(f"squiggles/{v}") and any(p.search(k) for p in pats)
        ]
    else:
        keys = []
    return [(k, _fmt(metrics[k])) for k in sorted(keys)]


def _fmt(v) -> str:
    if isinstance(v, dict) and "mean" in v:
        if v["mean"] is None:
            return f"n/a (no value in {len(v.get('per_seed', []))} seeds)"
        return f"{v['mean']:.4g} ± {v['std']:.2g} (n = {v['n_seeds']})"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def build_gallery(
    figures: list[str | Path],
    names: list[str],
    metrics: dict,
    out_dir,
    rules: dict[str, str] | None = None,
) -> None:
    """Copy figures into ``out_dir`` and write index.html and metrics.json."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    items = []
    for src, name in zip(figures, names, strict=True):
        shutil.copy2(src, tmp / f"{name}.png")
        rows = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{v}</td></tr>"
            for k, v in key_metrics(name, metrics)
        )
        table = f"<table>{rows}</table>" if rows else ""
        made_by = (
            f"<br><small>made by rule <code>{html.escape(rules[name])}</code></small>"
            if rules and name in rules
            else ""
        )
        refs = ", ".join(
            f'<a href="#ref-{k}">{html.escape(r.short)}</a>'
            for k, r in REFERENCES.items()
            if r in figure_references(name)
        )
        made_by += f"<br><small>reproduces: {refs} (see References)</small>" if refs else ""
        items.append(
            f'<figure id="{name}"><h2>{html.escape(name)}</h2>'
            f'<a href="{name}.png"><img src="{name}.png" alt="{html.escape(name)}"></a>'
            f"<figcaption>{html.escape(caption_for(name))}{made_by}</figcaption>{table}</figure>"
        )
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Figures</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
        "figure{border-bottom:1px solid #ccc;padding-bottom:1em;margin:0}"
        "table{border-collapse:collapse;font-size:0.85em;margin-top:0.5em}"
        "td{border-bottom:1px solid #eee;padding:2px 8px}</style></head><body>"
        "<h1>Manifold-adversarial pipeline: figures</h1>"
        "<p>All numbers: <a href='metrics.json'>metrics.json</a> (mean ± sd over seeds).</p>"
        + "".join(items)
        + "<h2 id='references'>References</h2><ul>"
        + "".join(
            f"<li id='ref-{k}'><b>{html.escape(r.short)}</b>: {html.escape(r.text())}</li>"
            for k, r in REFERENCES.items()
        )
        + "</ul></body></html>"
    )
    (tmp / "index.html").write_text(page)
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
