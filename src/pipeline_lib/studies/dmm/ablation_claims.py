"""Claims judged on the natural-image DMM ablations (config ``dmm.ablations``).

The DMM claims of Table 1, Table 2 and Fig. 6 re-judged under each ablation setting, so
a verdict is not about one manifold model or one architecture's initialisation:

* per manifold setting (latent size k, autoencoder training length, tangent location):
  R(d, M) exceeds its random-subspace control; the on-manifold relative effect E is
  tiny; on-manifold PGD examples are much further than off-manifold ones (Table 2);
* per architecture of the Fig. 6 ablation: the early drop and the plateau.

Thresholds are the main claims' (dmm/claims.py), restated here because that module
imports this one; they are set from the paper's wording, not from any result.
Imported when the Snakefile is parsed: nothing numerical at module level.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline_lib.ledger import NO_CONTROL, Claim, Deviation, Evidence, dataset_deviation

from . import ablation_registry as reg
from .ablation_names import setting_name

PAPER = "dmm"
PREFIX = "dmm_ablation"
TINY_EFFECT = 0.1  # "the on-manifold relative effect was tiny": E below 0.1
MUCH_FURTHER = 2.0  # "much further away": at least twice the distance
DROP = 0.1  # "rapidly decreases": at least a 10% drop; "no further decrease": under 10%
PAPER_K = {"mnist": 16, "cifar10": 128, "imagenet": 3584}
NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
_LOC = {
    "reconstruction": "tangents at x' = decode(encode(x)) (the paper's choice)",
    "projected": "tangents at D(z*), the decoder's point nearest x (z* by gradient descent "
    "on |D(z) - x|^2 from encode(x))",
}


def _pooled(ctx, paths, fn):
    import numpy as np

    cols = None
    for p in paths:
        parts = [np.asarray(a, dtype=np.float64).ravel() for a in fn(ctx.store(p))]
        cols = parts if cols is None else [np.concatenate(z) for z in zip(cols, parts, strict=True)]
    ok = np.ones(len(cols[0]), dtype=bool)
    for c in cols:
        ok &= np.isfinite(c)
    return [c[ok] for c in cols], int(ok.size)


def _note(n: int, n_all: int, what: str, n_seeds: int) -> str:
    return (
        f"{n} {what} of {n_all} pooled over the clean classifiers of {n_seeds} seed(s) (the "
        "same test images recur across seeds, so images are not independent between seeds)"
    )


def _dataset_devs(ds: str, paper_data: str) -> list[Deviation]:
    """The dataset deviation of the main claims: only where the paper lacks the dataset."""
    return list(dataset_deviation(NAMES[ds], paper_data)) if ds == "fashion_mnist" else []


def _setting_devs(cfg: Mapping, ds: str, k: int, e: int, at: str) -> tuple[Deviation, ...]:
    ae = cfg["dmm"][ds]["autoencoder"]
    out = _dataset_devs(ds, "MNIST, CIFAR-10 and ImageNet")
    out.append(
        Deviation(
            f"manifold model: a {ae['kind']} autoencoder with k = {k}, {e} epochs (paper: "
            "the isometric autoencoder, k = 16 on MNIST, 1000 epochs)",
            "ablation of the manifold's dimension and quality (issue 19 item 7); the paper "
            "says its k 'may overestimate' the manifold's dimension",
        )
    )
    if at != "reconstruction":
        out.append(
            Deviation(
                "tangent space taken at D(z*), the decoder's point nearest x, not at "
                "decode(encode(x))",
                "ablation of where the tangent space is taken (issue 19 item 9)",
            )
        )
    return tuple(out)


def _manifold_claims(cfg: Mapping, ds: str) -> list[Claim]:
    out = []
    sd = reg.seeds(cfg)
    for k, e, at in reg.settings(cfg, ds):
        name = setting_name(k, e, at)
        paths = tuple(reg.attacks(cfg, ds, k, e, at, s) for s in sd)
        key = f"{PREFIX}/{ds}/{name}-clean"
        where = f"k = {k}, autoencoder {e} epochs, {_LOC[at]}"

        def ev_subspace(ctx, paths=paths):
            (r, c), n_all = _pooled(
                ctx, paths, lambda st: (st.ratio.values, st.ratio_random_subspace.values)
            )
            note = _note(len(r), n_all, "successfully attacked images", len(paths))
            return Evidence(ours=r, control=c, paired=True, note=note + "; paired per image")

        def ev_effect(ctx, paths=paths):
            (e_,), n_all = _pooled(ctx, paths, lambda st: (st.on_effect.values,))
            note = _note(len(e_), n_all, "successfully attacked images", len(paths))
            return Evidence(ours=e_, control=TINY_EFFECT, note=note)

        def ev_onoff(ctx, paths=paths):
            def fn(st):
                d = st.c_distance
                return (d.sel(attack="on").values, d.sel(attack="off").values)

            (a, b), n_all = _pooled(ctx, paths, fn)
            note = _note(
                len(a), n_all, "images with both on- and off-manifold PGD successful", len(paths)
            )
            return Evidence(ours=a / b, control=MUCH_FURTHER, note=note)

        base = {
            "paper": PAPER,
            "unit": "images (pooled over seeds)",
            "test": "wilcoxon",
            "deviations": _setting_devs(cfg, ds, k, e, at),
            "figure": f"dmm_ablation_{ds}_manifold",
            "inputs": paths,
        }
        out += [
            Claim(
                id=f"dmm.ablation.norm_ratio_vs_random_subspace.{name}.{ds}",
                location="Table 1, App. E.2 (ablation)",
                statement=(
                    "Adversarial perturbations prefer off-manifold directions at this "
                    f"manifold setting ({where}): R(d, M) is larger than the same d's ratio "
                    "on a random k-dimensional subspace."
                ),
                metric="R(d, M) minus R(d, Q) per successfully attacked image",
                metric_keys=(f"{key}/norm_ratio", f"{key}/norm_ratio_random_subspace"),
                control="R(d, Q) of the same perturbation on a uniformly random k-dim subspace Q",
                direction="greater",
                paper_text="App. E.2: 'values larger than R-bar indicate actual preference "
                "of off-manifold over on-manifold dimensions'",
                evidence=ev_subspace,
                **base,
            ),
            Claim(
                id=f"dmm.ablation.relative_effect_tiny.{name}.{ds}",
                location="Table 1, App. E.2 (ablation)",
                statement=(
                    f"The on-manifold relative effect is tiny at this manifold setting "
                    f"({where}): E = E_{{Proj_M d}} / E_d is below {TINY_EFFECT:g}."
                ),
                metric="E_{Proj_M d} / E_d at the tangent point per successfully attacked image",
                metric_keys=(f"{key}/on_manifold_relative_effect",),
                control=NO_CONTROL,
                direction="less",
                paper_text="App. E.2: 'in all three cases, the on-manifold relative effect "
                "was tiny'",
                evidence=ev_effect,
                **base,
            ),
            Claim(
                id=f"dmm.ablation.on_vs_off_distance.{name}.{ds}",
                location="Table 2, Sec. 7.1 (ablation)",
                statement=(
                    "On-manifold PGD adversarial examples are much further from x than "
                    f"off-manifold ones at this manifold setting ({where}): at least "
                    f"{MUCH_FURTHER:g} times as far."
                ),
                metric="per image: L2 distance of the on-manifold PGD example / that of the "
                "off-manifold one",
                metric_keys=(f"{key}/on_pgd_distance", f"{key}/off_pgd_distance"),
                control=NO_CONTROL,
                direction="greater",
                paper_text="App. E.3: 'on-manifold adversarial examples are much further "
                "away from the original image x while the off-manifold adversarial examples "
                "are much closer (up to 6 times closer)'",
                evidence=ev_onoff,
                **base,
            ),
        ]
    return out


def _boundary_claims(cfg: Mapping, ds: str) -> list[Claim]:
    out = []
    n_epochs = (
        cfg["dmm"]["ablations"]["classifier_epochs"] or (cfg["dmm"][ds]["classifier"]["epochs"])
    )
    few = max(1, int(round(n_epochs / 10)))
    for arch in reg.archs(cfg):
        paths = tuple(reg.boundary(ds, arch, s, "distance.zarr") for s in reg.seeds(cfg))
        key = f"{PREFIX}/{ds}-boundary_{arch}"

        def ev_curve(ctx, a, b, ref, paths=paths, arch=arch):
            """Per seed: mean distance at time b / at time a (epochs)."""
            import numpy as np

            vals = []
            for p in paths:
                s = ctx.store(p)
                t = np.asarray(s.epoch.values, dtype=np.float64)
                d = np.asarray(s.distance.values, dtype=np.float64)
                curve = [
                    float(r[np.isfinite(r)].mean()) if np.isfinite(r).any() else np.nan for r in d
                ]
                ia = int(np.argmin(np.abs(t - a)))
                ib = int(np.argmin(np.abs(t - b)))
                vals.append(curve[ib] / curve[ia])
            note = (
                f"{len(vals)} seeds' {arch} classifiers; per seed the mean finite distance of "
                f"the tracked test images at epoch {b:g} / at epoch {a:g}"
            )
            return Evidence(ours=vals, control=ref, note=note)

        devs = (
            *_dataset_devs(ds, "CIFAR-10"),
            Deviation(
                f"classifier: {arch} trained {n_epochs} epochs with sub-epoch checkpoints "
                "in the first epoch (paper: a ResNet50 on CIFAR-10, per-epoch points)",
                "ablation of the architecture and of the curve's resolution (issue 19 item 10)",
            ),
        )
        keys = (
            f"{key}/boundary_distance_curve",
            f"{key}/boundary_distance_initial",
            f"{key}/boundary_distance_final",
        )
        base = {
            "paper": PAPER,
            "location": "Fig. 6, Sec. 6 (ablation)",
            "unit": "seeds",
            "test": "t",
            "deviations": devs,
            "figure": f"dmm_ablation_{ds}_boundary",
            "inputs": paths,
            "metric_keys": keys,
            "paper_text": "Fig. 6: 'this distance rapidly decreases during the first few "
            "epochs ... and then fluctuates over many epochs without further decreases'",
        }
        out += [
            Claim(
                id=f"dmm.ablation.fig6.clinging_drop.{arch}.{ds}",
                statement=(
                    f"Clinging ({arch} classifier): the mean distance from test images to the "
                    f"boundary drops by at least {DROP:.0%} from initialisation by epoch "
                    f"{few} (a tenth of the training)."
                ),
                metric="per seed: mean distance at the early epoch / at initialisation",
                control="the same network at initialisation (ratio 1)",
                direction="less",
                margin=DROP,
                evidence=lambda ctx, f=ev_curve, few=few: f(ctx, 0.0, float(few), 1.0),
                **base,
            ),
            Claim(
                id=f"dmm.ablation.fig6.no_further_decrease.{arch}.{ds}",
                statement=(
                    f"Dimpling ({arch} classifier): after epoch {few} the distance does not "
                    f"decrease further (the last epoch's is no more than {DROP:.0%} below)."
                ),
                metric="per seed: mean distance at the last epoch / at the early epoch",
                control=NO_CONTROL,
                direction="greater",
                evidence=lambda ctx, f=ev_curve, few=few, n=n_epochs: f(
                    ctx, float(few), float(n), 1.0 - DROP
                ),
                **base,
            ),
        ]
    return out


def claims(cfg: Mapping) -> list[Claim]:
    """The claims of the configured ablations (none when none is configured)."""
    if not reg.active(cfg):
        return []
    out = []
    for ds in reg.datasets(cfg):
        out += _manifold_claims(cfg, ds)
        out += _boundary_claims(cfg, ds)
    return out
