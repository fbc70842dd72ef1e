"""The natural-image Dimpled-Manifold study's claims (the reproduction ledger).

One :class:`~pipeline_lib.ledger.Claim` per measurable claim of the DMM paper's
natural-image experiments (Table 1, Table 2, Fig. 6, Fig. 7/8 with App. B, Sec. 5.1,
Sec. 5.2, App. G, App. H), per configured dataset; the paper's own datasets that a
config does not run (MNIST, CIFAR-10; ImageNet, which the pipeline never prepares) are
declared too, as not testable. Decision rules are fixed from the paper's wording, not
from any result.

Replicates: per-image claims pool the images of every seed's classifier (the same test
images recur across seeds; each evidence note says so); training-dependent claims
(adversarial vs clean training, the Fig. 6 curves, Sec. 5.2) use one number per seed.

Imported when the Snakefile is parsed: nothing numerical at module level (numpy is
imported inside the evidence functions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

from pipeline_lib.ledger import NO_CONTROL, Claim, Deviation, Evidence, dataset_deviation

from . import ablation_claims, registry

PAPER = "dmm"
PREFIX = "dmm_natural"
NAMES = {
    "fashion_mnist": "Fashion-MNIST",
    "mnist": "MNIST",
    "cifar10": "CIFAR-10",
    "imagenet": "ImageNet",
}
ALL_PAPER = "MNIST, CIFAR-10 and ImageNet"
_KINDS = {"mlp": "an MLP (784-256-256-C, dropout 0.2)", "convnet": "a small conv net"}

# The paper's protocol per dataset (App. D.3, F, G), the reference of the deviations.
# Fashion-MNIST is compared with the paper's MNIST protocol (same 28x28 format).
_MNIST = {
    "autoencoder": {
        "arch": "the isometric autoencoder of Atzmon et al. (2020)",
        "k": 16,
        "epochs": 1000,
        "lr": 0.001,
        "batch_size": 144,
    },
    "classifier": {
        "arch": "the 784-256-256-10 MLP with dropout 0.2 (App. G.1)",
        "kind": "mlp",
        "epochs": 40,
        "lr": 0.01,
        "momentum": 0.0,
        "weight_decay": 0.0001,
        "batch_size": 200,
    },
    "n_train": 60000,
    "n_test": 10000,
    "attack": {"eps": 2.0, "step": 0.04, "steps": 50},
    "constrained": {"eps": 10.0, "step": 0.02, "steps": 1000, "on_step_factor": 10},
}
_CIFAR = {
    "autoencoder": {
        "arch": "a VGG16-based autoencoder (foamliu/Autoencoder) with plain upsampling",
        "k": 128,
        "epochs": 400,
        "lr": 0.001,
        "batch_size": 32,
    },
    "classifier": {
        "arch": "a pre-trained 7-layer conv net (aaron-xichen/pytorch-playground, 93% on the "
        "10 classes)",
    },
    "classes": [0, 1],
    "n_train": 10000,
    "n_test": 2000,
    "attack": {"eps": 0.5, "step": 0.04, "steps": 50},
    "constrained": {"eps": 3.0, "step": 0.12, "steps": 1000, "on_step_factor": 10},
}
_IMAGENET = {
    "autoencoder": {
        "arch": "the CIFAR-10 VGG16-based autoencoder (App. G.3)",
        "k": 3584,
        "epochs": 325,
        "lr": 0.0001,
        "batch_size": 32,
    },
    "classifier": {"arch": "torchvision's pre-trained ResNet50", "depth": 50},
    "classes": [1, 2],
    "n_train": 2600,  # not stated: the two classes' training images
    "n_test": 100,
    "attack": {"eps": 2.0, "step": 0.8, "steps": 50},
    "constrained": {"eps": 5.0, "step": 0.01, "steps": 1000, "on_step_factor": 10},
}
_PROTOCOL = {"fashion_mnist": _MNIST, "mnist": _MNIST, "cifar10": _CIFAR, "imagenet": _IMAGENET}
# App. G: mean L2 distance between test images and their reconstructions
_RECONSTRUCTION_L2 = {"mnist": 2.1, "cifar10": 7.88, "imagenet": 38.7601}

# Decision thresholds, declared from the paper's wording (see each claim's statement).
TINY_EFFECT = 0.1  # "the on-manifold relative effect was tiny": E below 0.1
MUCH_FURTHER = 2.0  # "much further away": at least twice the distance
SLIGHTLY = 0.25  # "only slightly further": within 25% of the unconstrained distance
ALMOST_NONE = 0.05  # "almost no adversarial effect": Proj_M d flips under 5% of images
ALMOST_ADVERSARIAL = 0.8  # "almost adversarial": closes at least 80% of the logit gap
UNIFORM_TOL = 0.1  # "almost uniform amplitude": object share within 0.1 of the pixel share
DROP = 0.1  # "rapidly decreases": at least a 10% drop; "no further decrease": under 10%
ABOVE_CHANCE = 0.1  # "good accuracy": at least 0.1 above chance
CLOSE_FACTOR = 1.5  # App. G: reconstruction distance at most 1.5x the paper's
LITTLE_CHANGE = 0.25  # Sec. 5.1 "the clinging phase will not change much": within +/- 25%
SIMILAR = 0.1  # Sec. 5.2 "very similar decision boundaries": within 0.1 of the baseline pair


# ----------------------------------------------------------------------------- helpers


def _dmm(cfg: Mapping) -> Mapping:
    return cfg["dmm"]


def _key(ds: str, run: str | None, name: str) -> str:
    return f"{PREFIX}/{ds}-{run}/{name}" if run else f"{PREFIX}/{ds}/{name}"


def _pretrained(cfg: Mapping, ds: str) -> bool:
    return ds in registry.pretrained_datasets(cfg)


def _run(cfg: Mapping, ds: str, variant: str = "clean") -> str:
    """The classifier run a clean-classifier claim reads: "pretrained" on a dataset
    attacked with a pretrained network (ImageNet), else ``variant``."""
    return "pretrained" if _pretrained(cfg, ds) and variant == "clean" else variant


def _datasets(
    cfg: Mapping, paper_datasets: tuple[str, ...], pretrained: bool = False
) -> list[tuple[str, bool]]:
    """(dataset, configured): the config's datasets (with ``pretrained``, those attacked
    with a pretrained classifier too), then the paper's others."""
    conf = list(_dmm(cfg)["datasets"])
    if pretrained:
        conf += registry.pretrained_datasets(cfg)
    return [(d, True) for d in conf] + [(d, False) for d in paper_datasets if d not in conf]


def _absent(ds: str) -> str:
    if ds == "imagenet":
        return (
            "needs ImageNet (224x224 images, a pre-trained ResNet50, a 3584-dim "
            "autoencoder): add config/paper_imagenet.yaml (dmm.pretrained_datasets) with "
            "ImageNet's files and the ResNet50 weights in place"
        )
    return f"needs {NAMES[ds]} in dmm.datasets, which this config does not run"


def _needs_variants(cfg: Mapping, *variants: str, ds: str = "") -> str:
    if ds and _pretrained(cfg, ds) and set(variants) <= {"clean"}:
        return ""  # the pretrained classifier stands in for the clean one
    missing = [v for v in variants if v not in _dmm(cfg)["variants"]]
    if not missing:
        return ""
    return (
        f"needs the {' and '.join(missing)} classifier variant(s) in dmm.variants, "
        "which this config does not train"
    )


def _needs_distance(cfg: Mapping, variant: str) -> str:
    """Why a Fig. 6 claim on ``variant`` cannot be judged ("" when it can)."""
    if why := _needs_variants(cfg, variant):
        return why
    if variant not in registry.distance_variants(cfg):
        return (
            f"needs the {variant} classifier's distance curve: add {variant} to "
            "dmm.distance_variants"
        )
    return ""


def _figure(cfg: Mapping, ds: str, kind: str) -> str:
    name = f"dmm_{ds}_{kind}"
    return name if name in {f.name for f in registry.figures(cfg)} else ""


def _seeds(cfg: Mapping) -> list:
    return list(_dmm(cfg)["seeds"])


def _seeds_of(cfg: Mapping, ds: str) -> list:
    return [0] if _pretrained(cfg, ds) else _seeds(cfg)


def _attack_paths(cfg: Mapping, ds: str, variant: str) -> tuple[str, ...]:
    v = _run(cfg, ds, variant)
    return tuple(registry.run(ds, v, s, "attacks.zarr") for s in _seeds_of(cfg, ds))


def _distance_paths(cfg: Mapping, ds: str, variant: str) -> tuple[str, ...]:
    return tuple(registry.run(ds, variant, s, "distance.zarr") for s in _seeds(cfg))


def _pooled(ctx, paths, fn) -> list:
    """``fn(store)`` -> equal-length per-image arrays; concatenated over the stores."""
    import numpy as np

    cols: list | None = None
    for p in paths:
        parts = [np.asarray(a, dtype=np.float64).ravel() for a in fn(ctx.store(p))]
        cols = parts if cols is None else [np.concatenate(z) for z in zip(cols, parts, strict=True)]
    return cols or []


def _finite(*cols):
    """The columns restricted to the rows where every column is finite."""
    import numpy as np

    ok = np.ones(len(cols[0]), dtype=bool)
    for c in cols:
        ok &= np.isfinite(c)
    return [c[ok] for c in cols]


def _variant_of(paths) -> str:
    """The classifier run of per-classifier store paths (clean, pretrained, ...)."""
    return Path(paths[0]).parts[-3] if paths else "clean"


def _paths_note(n: int, what: str, paths) -> str:
    return _pool_note(n, what, _variant_of(paths), len(paths))


def _pool_note(n: int, what: str, variant: str, n_seeds: int) -> str:
    return (
        f"{n} {what} pooled over the {variant} classifiers of {n_seeds} seed(s) (the same "
        "test images recur across seeds, so images are not independent between seeds)"
    )


def _per_seed(ctx, key: str) -> list[float]:
    """Per-seed values of a metric with NaN for a missing seed (kept aligned)."""
    return [math.nan if x is None else float(x) for x in ctx.metric(key)["per_seed"]]


def _mean_finite_rows(a) -> list[float]:
    import numpy as np

    out = []
    for row in np.asarray(a, dtype=np.float64):
        fin = row[np.isfinite(row)]
        out.append(float(fin.mean()) if fin.size else math.nan)
    return out


# ----------------------------------------------------------------------------- deviations


def _dataset_dev(ds: str, paper_data: str) -> tuple[Deviation, ...]:
    if ds == "fashion_mnist":
        return dataset_deviation(NAMES[ds], paper_data)
    if NAMES[ds] in paper_data:
        return ()
    return (
        Deviation(
            f"dataset: {NAMES[ds]} instead of {paper_data}",
            f"the config's dataset; the paper ran this on {paper_data} only: compare "
            "directions, not values",
        ),
    )


def _compare(what: str, ours: Mapping, paper: Mapping, keys, reason: str) -> list[Deviation]:
    out = []
    for k in keys:
        if k in paper and k in ours and ours[k] != paper[k]:
            out.append(Deviation(f"{what} {k} {ours[k]} instead of {paper[k]}", reason))
    return out


def _data_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    nat = cfg["natural"][ds]
    p = _PROTOCOL[ds]
    out = []
    if nat["n_train"] < p["n_train"]:
        out.append(
            Deviation(
                f"{nat['n_train']} training images instead of {p['n_train']}",
                "CPU budget of this config (natural.<ds>.n_train)",
            )
        )
    manifold = _dmm(cfg)[ds]["autoencoder"].get("classes") or list(nat["classes"])
    if "classes" in p and list(manifold) != p["classes"]:
        out.append(
            Deviation(
                f"manifold model and attacked images of classes {list(manifold)} instead of "
                f"the paper's {p['classes']}",
                "the config's choice (dmm.<dataset>.autoencoder.classes, else "
                "natural.<dataset>.classes)",
            )
        )
    return out


def _manifold_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    a = _dmm(cfg)[ds]["autoencoder"]
    p = _PROTOCOL[ds]["autoencoder"]
    if a["kind"] == "mlp":
        arch = f"a ReLU MLP autoencoder (hidden {list(a['hidden'])}, sigmoid output)"
    else:
        arch = f"a small VGG-style conv autoencoder (width {a['width']}, nearest upsampling)"
    out = [
        Deviation(
            f"manifold model: {arch} instead of {p['arch']}",
            "the paper's autoencoder code and weights are not available offline; same k, "
            "optimiser and loss",
        ),
        Deviation(
            "tangent space M: orthonormal basis of the decoder Jacobian at encode(x) "
            "(forward mode) instead of App. D.2's finite differences decode(c + eps e_i) - x'",
            "the exact limit of the paper's construction; checked per image against it "
            "(tangent_fd_min_cosine)",
        ),
    ]
    if a["epochs"] != p["epochs"]:
        out.append(
            Deviation(
                f"autoencoder trained {a['epochs']} epochs instead of {p['epochs']}",
                "CPU budget (docs/dmm.md, Known deviations)",
            )
        )
    out += _compare(
        "autoencoder", a, p, ("k", "lr", "batch_size"), "the config's choice (reduced run)"
    )
    return out


def _classifier_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    p = _PROTOCOL[ds]["classifier"]
    out = []
    if _pretrained(cfg, ds):
        pre = _dmm(cfg)[ds]["pretrained"]
        if ds != "imagenet" or int(pre["depth"]) != p["depth"]:
            out.append(
                Deviation(
                    f"classifier: a pretrained torchvision ResNet-{pre['depth']} instead of "
                    f"{p['arch']}",
                    "the config's choice (dmm.<dataset>.pretrained)",
                )
            )
        return out
    c = _dmm(cfg)[ds]["classifier"]
    if ds == "cifar10":
        out.append(
            Deviation(
                f"classifier: {_KINDS[c['kind']]} trained here instead of {p['arch']}",
                "the pre-trained network is not available offline",
            )
        )
        if len(cfg["natural"][ds]["classes"]) < 10:
            out.append(
                Deviation(
                    f"classifier trained on classes {list(cfg['natural'][ds]['classes'])} "
                    "only (the paper's classifies all 10)",
                    "the config's CIFAR-10 subset is the autoencoder's two classes",
                )
            )
        return out
    if c["kind"] != p["kind"]:
        out.append(
            Deviation(
                f"classifier: {_KINDS[c['kind']]} instead of {p['arch']}", "the config's choice"
            )
        )
    if c["momentum"] != p["momentum"]:
        out.append(
            Deviation(
                f"SGD momentum {c['momentum']} (the paper: plain SGD)",
                "docs/dmm.md: plain SGD reaches only 0.77 test accuracy in 40 epochs on "
                "10 000 Fashion-MNIST images",
            )
        )
    out += _compare(
        "classifier",
        c,
        p,
        ("epochs", "lr", "weight_decay", "batch_size"),
        "the config's choice (reduced run)",
    )
    return out


def _random_start() -> Deviation:
    return Deviation(
        "PGD starts at x (no random start)",
        "the paper does not say; Advertorch's PGD it names starts at a random point by "
        "default; a start at x keeps the greedy attacks deterministic",
    )


def _attack_devs(cfg: Mapping, ds: str, which: str) -> list[Deviation]:
    label = {"attack": "Table 1 L2 PGD", "constrained": "Table 2 on/off-manifold PGD"}[which]
    out = _compare(
        label,
        _dmm(cfg)[ds][which],
        _PROTOCOL[ds][which],
        ("eps", "step", "steps", "on_step_factor"),
        "the config's choice (reduced run)",
    )
    return [*out, _random_start()]


def _samples_dev(cfg: Mapping, ds: str) -> list[Deviation]:
    n = registry.n_samples(cfg, ds)
    if n >= _PROTOCOL[ds]["n_test"]:
        return []
    return [
        Deviation(
            f"the correctly classified images among the first {n} test images instead of "
            "the paper's test set",
            "CPU budget (tangent bases and 1000-step attacks per image); the paper does "
            "not say how many images it averaged",
        )
    ]


def _adv_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    a = _dmm(cfg)[ds]["adversarial_training"]
    return [
        Deviation(
            f"adversarial training: L2 PGD (Madry), eps {a['eps']}, {a['steps']} steps of "
            f"{a['step']}, every batch replaced by its adversarial counterpart",
            "the paper runs no natural-image adversarial training (Sec. 5.1 argues it; "
            "Fig. 3 is single-step L2 PGD on 2-D data): settings chosen here",
        )
    ]


def _distance_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    d = _dmm(cfg)[ds]["distance"]
    c = _dmm(cfg)[ds]["classifier"]
    return [
        Deviation(
            f"network: {_KINDS[c['kind']]} on {NAMES[ds]} instead of a 10-class "
            "ResNet50 on CIFAR-10",
            "CPU budget; the classifier of the other experiments",
        ),
        Deviation(
            "distance to the boundary of each image's predicted class by greedy L2 PGD + "
            f"{d['bisections']} bisections over eps (an upper bound; none within eps_max "
            f"{d['eps_max']} left out), on the first {_dmm(cfg)['distance_samples']} test "
            "images",
            "the paper does not say how it measured the distance or on how many images",
        ),
    ]


def _mislabeled_devs(cfg: Mapping, ds: str, scheme: str) -> list[Deviation]:
    m = _dmm(cfg)[ds]["mislabeled_attack"]
    out = [
        Deviation(
            f"N1's targeted attack: L2 PGD eps {m['eps']}, {m['steps']} steps of {m['step']}, "
            "no early stop",
            "the paper gives no settings (it retells Ilyas et al. 2019); a non-greedy attack "
            "gives the confident target predictions its 2-eps argument assumes (docs/dmm.md)",
        ),
        Deviation(
            "N2 has N1's architecture, optimiser and epochs",
            "the paper allows 'a possibly different architecture'; the same keeps it simple",
        ),
    ]
    if scheme == "two_class":
        a, b = _dmm(cfg)["mislabeled"]["two_classes"]
        out.append(
            Deviation(
                f"two classes of {NAMES[ds]} ({a} vs {b}; a 2-class dataset uses its own) "
                "instead of cats vs guacamole",
                "the paper's 2-class version of the experiment on this dataset",
            )
        )
    else:
        out.append(
            Deviation(
                f"Ilyas et al.'s multi-class scheme D_{scheme} (target "
                + ("y+1 mod C" if scheme == "det" else "a random other class")
                + ") instead of the paper's 2-class version",
                "the schemes Ilyas et al. ran, which the paper's explanation covers too",
            )
        )
    return out


def _linf_devs(cfg: Mapping, ds: str) -> list[Deviation]:
    li = _dmm(cfg)[ds]["linf"]
    return [
        Deviation(
            f"L-inf PGD eps {li['eps']}, {li['steps']} steps of {li['step']}",
            "App. H gives no value",
        ),
        Deviation(
            f"'follows the object' measured as the share of the perturbation's squared mass "
            f"on object pixels (x > {_dmm(cfg)['object_threshold']})",
            "App. H judges the pictures by eye; this number makes the claim measurable",
        ),
    ]


def _devs(cfg: Mapping, ds: str, paper_data: str, *parts) -> tuple[Deviation, ...]:
    out = list(_dataset_dev(ds, paper_data))
    for p in parts:
        out += p
    return tuple(out)


# ----------------------------------------------------------------------------- claim builder


def _make(
    cfg: Mapping,
    ds: str,
    configured: bool,
    *,
    id: str,
    location: str,
    statement: str,
    metric: str,
    keys: tuple[str, ...],
    control: str,
    unit: str,
    test: str,
    direction: str,
    margin: float = 0.0,
    paper_value: float | None = None,
    paper_text: str = "",
    kind: str = "",
    deviations: Callable[[], tuple[Deviation, ...]] = tuple,
    inputs: tuple[str, ...] = (),
    evidence: Callable | None = None,
    needs: str = "",
) -> Claim:
    """A claim on one dataset: not testable (no keys, inputs, evidence or deviations)
    when the dataset is not configured or ``needs`` says what the config lacks."""
    why = needs if configured else _absent(ds)
    testable = not why
    return Claim(
        id=f"{id}.{ds}",
        paper=PAPER,
        location=location,
        statement=statement,
        metric=metric,
        metric_keys=keys if testable else (),
        control=control,
        unit=unit,
        test=test,
        direction=direction,
        margin=margin,
        paper_value=paper_value,
        paper_text=paper_text,
        deviations=deviations() if testable else (),
        figure=_figure(cfg, ds, kind) if configured and kind else "",
        inputs=inputs if testable else (),
        evidence=evidence if testable else None,
        not_testable=why,
    )


# ----------------------------------------------------------------------------- Table 1, Fig. 7


def _table1(cfg: Mapping) -> list[Claim]:
    out = []
    for ds, conf in _datasets(cfg, ("mnist", "cifar10", "imagenet"), pretrained=True):
        needs = _needs_variants(cfg, "clean", ds=ds) if conf else ""
        paths = _attack_paths(cfg, ds, "clean") if conf else ()

        def devs(ds=ds):
            return _devs(
                cfg,
                ds,
                ALL_PAPER,
                _manifold_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
                _samples_dev(cfg, ds),
                _attack_devs(cfg, ds, "attack"),
            )

        k = lambda name, ds=ds: _key(ds, _run(cfg, ds), name)  # noqa: E731

        def ev_ratio(ctx, paths=paths, control="ratio_random_vector"):
            r, c = _finite(*_pooled(ctx, paths, lambda s: (s.ratio.values, s[control].values)))
            note = _paths_note(len(r), "successfully attacked images", paths)
            return Evidence(ours=r, control=c, paired=True, note=note + "; paired per image")

        def ev_ratio_const(ctx, paths=paths):
            (r,) = _finite(*_pooled(ctx, paths, lambda s: (s.ratio.values,)))
            note = _paths_note(len(r), "successfully attacked images", paths)
            return Evidence(ours=r, control=math.sqrt(2), note=note)

        def ev_effect(ctx, paths=paths, ref=TINY_EFFECT):
            (e,) = _finite(*_pooled(ctx, paths, lambda s: (s.on_effect.values,)))
            note = _paths_note(len(e), "successfully attacked images", paths)
            return Evidence(ours=e, control=ref, note=note)

        base = {
            "location": "Table 1, App. E.2",
            "unit": "images (pooled over seeds)",
            "kind": "ratios",
            "deviations": devs,
            "inputs": paths,
            "needs": needs,
        }
        ptext = (
            "Table 1 (an image in the source text: its numbers are not in it); App. E.2: "
            "R-bar = sqrt(n/k) for a random vector, 'values larger than R-bar indicate actual "
            "preference of off-manifold over on-manifold dimensions'; MNIST: 'the norm ratio "
            "was smaller than expected'"
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.norm_ratio_vs_random_vector",
                statement=(
                    "Adversarial perturbations are roughly perpendicular to the image "
                    "manifold: R(d, M) = |d| / |Proj_M d| of greedy L2 PGD perturbations is "
                    "larger than R-bar, the ratio of a random vector (a preference of "
                    "off-manifold over on-manifold directions)."
                ),
                metric="R(d, M) per successfully attacked image (clean classifier), minus R "
                "of a Gaussian random vector on the same M (App. I's R-bar, measured)",
                keys=(k("norm_ratio"), k("norm_ratio_random_vector")),
                control="R(r, M) of a Gaussian random vector r on the same image's M "
                "(App. I's R-bar, measured; the paper's reference is sqrt(n/k))",
                test="wilcoxon",
                direction="greater",
                paper_text=ptext,
                evidence=ev_ratio,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.norm_ratio_vs_random_subspace",
                statement=(
                    "Adversarial perturbations prefer off-manifold directions: d's norm ratio "
                    "on the image manifold M is larger than the same d's ratio on a random "
                    "k-dimensional subspace."
                ),
                metric="R(d, M) minus R(d, Q) for a uniformly random k-dim subspace Q, per "
                "successfully attacked image (clean classifier)",
                keys=(k("norm_ratio"), k("norm_ratio_random_subspace")),
                control="R(d, Q) of the same perturbation on a uniformly random k-dim "
                "subspace Q (a control the paper lacks)",
                test="wilcoxon",
                direction="greater",
                paper_text=ptext,
                evidence=lambda ctx, f=ev_ratio: f(ctx, control="ratio_random_subspace"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.angle_over_45deg",
                statement=(
                    "Adversarial perturbations point mostly off the manifold: R(d, M) > "
                    "sqrt(2), an angle of more than 45 degrees between d and M (App. E.2)."
                ),
                metric="R(d, M) per successfully attacked image (clean classifier), vs sqrt(2)",
                keys=(k("norm_ratio"), k("norm_ratio_below_sqrt2_share")),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="greater",
                paper_text="App. E.2: 'any ratio larger than sqrt(2) indicates an angle "
                "larger than 45 degrees'",
                evidence=ev_ratio_const,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.relative_effect_tiny",
                statement=(
                    "The on-manifold relative effect is tiny: E = E_{Proj_M d} / E_d, the "
                    "share of the logit-gap change that Proj_M d causes, is below "
                    f"{TINY_EFFECT:g} ('tiny' read as under a tenth)."
                ),
                metric="E_{Proj_M d} / E_d at x' = decode(encode(x)) per successfully "
                "attacked image (clean classifier)",
                keys=(k("on_manifold_relative_effect"),),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="less",
                paper_text="Table 1 (numbers not in the source text); App. E.2: 'in all "
                "three cases, the on-manifold relative effect was tiny'",
                evidence=ev_effect,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.off_manifold_primary",
                statement=(
                    "Networks primarily use the off-manifold part of a perturbation to switch "
                    "their classification: the on-manifold relative effect E is below 0.5."
                ),
                metric="E_{Proj_M d} / E_d per successfully attacked image (clean classifier)",
                keys=(k("on_manifold_relative_effect"),),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="less",
                paper_text="App. E.2: 'the networks primarily used the off-manifold "
                "perturbations rather than the on-manifold perturbations'",
                evidence=lambda ctx, f=ev_effect: f(ctx, ref=0.5),
                **base,
            )
        )
    return out


def _fig7(cfg: Mapping) -> list[Claim]:
    out = []
    for ds, conf in _datasets(cfg, ("mnist", "cifar10", "imagenet"), pretrained=True):
        needs = _needs_variants(cfg, "clean", ds=ds) if conf else ""
        paths = _attack_paths(cfg, ds, "clean") if conf else ()

        def devs(ds=ds):
            return _devs(
                cfg,
                ds,
                ALL_PAPER,
                _manifold_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
                _samples_dev(cfg, ds),
                _attack_devs(cfg, ds, "attack"),
            )

        k = lambda name, ds=ds: _key(ds, _run(cfg, ds), name)  # noqa: E731

        def ev_on_flip(ctx, paths=paths):
            import numpy as np

            def fn(s):
                ok = np.asarray(s.pgd_success.values, dtype=bool)
                return (np.asarray(s.path_flips.sel(path="on").values, dtype=float)[ok],)

            (f,) = _pooled(ctx, paths, fn)
            note = _paths_note(len(f), "successfully attacked images", paths)
            return Evidence(ours=f, control=ALMOST_NONE, note=note)

        def ev_off_gap(ctx, paths=paths):
            import numpy as np

            def fn(s):
                ok = np.asarray(s.pgd_success.values, dtype=bool)
                z = np.asarray(s.path_logits.values, dtype=np.float64)  # sample, path, t, class
                if z.shape[0] == 0:
                    return (np.zeros(0),)
                i = np.arange(z.shape[0])
                src = np.asarray(s.label.values, dtype=int)
                adv = np.asarray(s.adv_class.values, dtype=int)
                paths_ = [str(p) for p in s.path.values]
                full, off = paths_.index("full"), paths_.index("off")

                def gap(p, t):
                    return z[i, p, t, adv] - z[i, p, t, src]

                total = gap(full, -1) - gap(full, 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    frac = (gap(off, -1) - gap(off, 0)) / total
                return (np.where(ok & (total > 0), frac, np.nan),)

            (f,) = _finite(*_pooled(ctx, paths, fn))
            note = _paths_note(len(f), "successfully attacked images", paths)
            return Evidence(ours=f, control=ALMOST_ADVERSARIAL, note=note)

        base = {
            "unit": "images (pooled over seeds)",
            "kind": "projections",
            "deviations": devs,
            "inputs": paths,
            "needs": needs,
        }
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appB1.on_projection_not_adversarial",
                location="Fig. 7, App. B.1 (Fig. 9-17)",
                statement=(
                    "The on-manifold projection x + Proj_M d barely changes the output "
                    "logits (almost no adversarial effect): it flips the class for fewer than "
                    f"{ALMOST_NONE:.0%} of the successfully attacked images."
                ),
                metric="share of successful attacks (clean classifier) whose x + Proj_M d is "
                "classified differently from x",
                keys=(k("on_projection_flip_rate"),),
                control=NO_CONTROL,
                test="binomial",
                direction="less",
                paper_text="App. B.1: 'the on-manifold projection x + Proj_M(d) barely "
                "changes the output logits (i.e., it has almost no adversarial effect)'",
                evidence=ev_on_flip,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appB1.off_projection_almost_adversarial",
                location="Fig. 7, App. B.1 (Fig. 9-17)",
                statement=(
                    "The off-manifold projection x + (d - Proj_M d) is almost adversarial: it "
                    f"closes at least {ALMOST_ADVERSARIAL:.0%} of the logit gap (adversarial "
                    "minus source class) that the full perturbation d closes."
                ),
                metric="per successfully attacked image (clean classifier): change of "
                "f_adv - f_src along x -> x + (d - Proj_M d) divided by its change along "
                "x -> x + d (from the stored logit paths)",
                keys=(k("off_projection_flip_rate"), k("full_projection_flip_rate")),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="greater",
                paper_text="App. B.1: 'the image created by the off-manifold projection "
                "x + (d - Proj_M(d)) is almost adversarial (i.e., it almost flips the class "
                "associated with the max logit)'",
                evidence=ev_off_gap,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.fig7_8.on_manifold_looks_like_target",
                location="Fig. 7, 8, App. B (Fig. 9-23)",
                statement=(
                    "On-manifold perturbations (Proj_M d, and on-manifold PGD) are visually "
                    "meaningful: they change the image towards the target class, while the "
                    "off-manifold ones look like noise around the object."
                ),
                metric="resemblance of x + on-manifold perturbation to the adversarial class",
                keys=(),
                control="the off-manifold perturbations of the same images",
                unit="images",
                test="binomial",
                direction="greater",
                paper_text="Sec. 7, 7.1, App. B: judged by eye on MNIST, CIFAR-10 and "
                "ImageNet examples",
                kind="projections",
                needs=(
                    "needs a measure of visual resemblance to the target class (human "
                    "ratings, or the class an independently trained classifier gives the "
                    "on- vs off-manifold examples), which the pipeline does not compute; "
                    "the projection and on/off galleries show it for judging by eye"
                ),
            )
        )
    return out


# ----------------------------------------------------------------------------- Table 2


def _table2(cfg: Mapping) -> list[Claim]:
    out = []
    for ds, conf in _datasets(cfg, ("mnist", "cifar10", "imagenet"), pretrained=True):
        needs = _needs_variants(cfg, "clean", ds=ds) if conf else ""
        paths = _attack_paths(cfg, ds, "clean") if conf else ()

        def devs(ds=ds):
            return _devs(
                cfg,
                ds,
                ALL_PAPER,
                _manifold_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
                _samples_dev(cfg, ds),
                _attack_devs(cfg, ds, "constrained"),
            )

        k = lambda name, ds=ds: _key(ds, _run(cfg, ds), name)  # noqa: E731

        def ev_ratio(ctx, num, den, ref, paths=paths):
            def fn(s):
                d = s.c_distance
                return (d.sel(attack=num).values, d.sel(attack=den).values)

            a, b = _pooled(ctx, paths, fn)
            n_all = len(a)
            a, b = _finite(a, b)
            note = _pool_note(
                len(a),
                f"images with both {num} and {den} PGD successful",
                _variant_of(paths),
                len(paths),
            )
            note += f" ({n_all - len(a)} of {n_all} left out: an attack failed within eps)"
            return Evidence(ours=a / b, control=ref, note=note)

        base = {
            "location": "Table 2, Sec. 7.1, App. E.3",
            "unit": "images (pooled over seeds)",
            "kind": "onoff",
            "deviations": devs,
            "inputs": paths,
            "needs": needs,
        }
        ptext = (
            "Table 2 (an image in the source text: its numbers are not in it); App. E.3: 'on-"
            "manifold adversarial examples are much further away from the original image x "
            "while the off-manifold adversarial examples are much closer (up to 6 times "
            "closer)'"
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table2.on_vs_off_distance",
                statement=(
                    "On-manifold PGD adversarial examples are much further from x than "
                    f"off-manifold ones ('much': at least {MUCH_FURTHER:g} times as far; the "
                    "paper: up to 6 times)."
                ),
                metric="per image (clean classifier): L2 distance of the on-manifold PGD "
                "example / that of the off-manifold one",
                keys=(k("on_pgd_distance"), k("off_pgd_distance"), k("on_over_off_distance")),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="greater",
                paper_text=ptext,
                evidence=lambda ctx, f=ev_ratio: f(ctx, "on", "off", MUCH_FURTHER),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table2.on_vs_regular_distance",
                statement=(
                    "On-manifold PGD adversarial examples are much further from x than "
                    f"unconstrained PGD ones (at least {MUCH_FURTHER:g} times as far)."
                ),
                metric="per image (clean classifier): L2 distance of the on-manifold PGD "
                "example / that of the regular (unconstrained) one",
                keys=(k("on_pgd_distance"), k("regular_pgd_distance")),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="greater",
                paper_text=ptext,
                evidence=lambda ctx, f=ev_ratio: f(ctx, "on", "regular", MUCH_FURTHER),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table2.off_vs_regular_distance",
                statement=(
                    "Off-manifold PGD adversarial examples are only slightly further from x "
                    "than unconstrained ones: their distance ratio lies within "
                    f"1 +/- {SLIGHTLY:g}."
                ),
                metric="per image (clean classifier): L2 distance of the off-manifold PGD "
                "example / that of the regular one",
                keys=(k("off_pgd_distance"), k("regular_pgd_distance")),
                control=NO_CONTROL,
                test="wilcoxon",
                direction="within",
                margin=SLIGHTLY,
                paper_value=None,
                paper_text="Sec. 7.1: 'Off-manifold adversarial examples are significantly "
                "closer to the test image than the on-manifold examples and only slightly "
                "further than non-constrained examples'",
                evidence=lambda ctx, f=ev_ratio: f(ctx, "off", "regular", 1.0),
                **base,
            )
        )
    return out


# ----------------------------------------------------------------------------- Fig. 6


def _early_epoch(n_epochs: int) -> int:
    """The end of the 'first few epochs': a tenth of the training, at least one epoch."""
    return max(1, int(round(n_epochs / 10)))


def _fig6(cfg: Mapping) -> list[Claim]:
    out = []
    for ds, conf in _datasets(cfg, ("cifar10",)):
        n_epochs = _dmm(cfg)[ds]["classifier"]["epochs"] if conf else 0
        few = _early_epoch(n_epochs) if conf else 0

        def devs(ds=ds):
            return _devs(
                cfg,
                ds,
                "CIFAR-10",
                _distance_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
            )

        def ev_curve(ctx, variant, a, b, ref, ds=ds):
            """Per seed: mean distance at epoch b / at epoch a ("init" = epoch 0, "few" =
            the early epoch, "last" = the last epoch)."""
            vals, shown = [], set()
            for p in _distance_paths(cfg, ds, variant):
                curve = _mean_finite_rows(ctx.store(p).distance.values)
                last = len(curve) - 1
                idx = {"init": 0, "few": min(_early_epoch(last), last), "last": last}
                shown.add(f"{a} = {idx[a]}, {b} = {idx[b]}")
                vals.append(curve[idx[b]] / curve[idx[a]])
            note = (
                f"{len(vals)} seeds' {variant} classifiers; per seed the mean finite distance "
                f"of the tracked test images at epoch {b} / at epoch {a} (epochs: "
                f"{'; '.join(sorted(shown))})"
            )
            return Evidence(ours=vals, control=ref, note=note)

        def keys_for(variant, ds=ds):
            return tuple(
                _key(ds, variant, n)
                for n in (
                    "boundary_distance_curve",
                    "boundary_distance_initial",
                    "boundary_distance_final",
                )
            )

        base = {
            "location": "Fig. 6, Sec. 6",
            "unit": "seeds",
            "kind": "clinging",
            "deviations": devs,
            "test": "t",
        }
        clean_paths = _distance_paths(cfg, ds, "clean") if conf else ()
        rl_paths = _distance_paths(cfg, ds, "random_labels") if conf else ()
        ptext = (
            "Fig. 6 (CIFAR-10, ResNet50; a plot, no numbers): 'this distance rapidly "
            "decreases during the first few epochs as the decision boundary clings to the "
            "image manifold, and then fluctuates over many epochs without further decreases'"
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.fig6.clinging_drop",
                statement=(
                    "Clinging: the mean distance from test images to the decision boundary "
                    "rapidly decreases during the first few epochs (by at least "
                    f"{DROP:.0%} from its value at initialisation by epoch {few}, a tenth of "
                    "the training)."
                ),
                metric="per seed (clean classifier): mean distance at the early epoch / mean "
                "distance at initialisation",
                keys=keys_for("clean"),
                control="the same network at initialisation (ratio 1)",
                direction="less",
                margin=DROP,
                paper_text=ptext,
                inputs=clean_paths,
                evidence=lambda ctx, f=ev_curve: f(ctx, "clean", "init", "few", 1.0),
                needs=_needs_distance(cfg, "clean") if conf else "",
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.fig6.no_further_decrease",
                statement=(
                    "Dimpling: after the first few epochs the distance fluctuates without "
                    f"further decreases (the last epoch's distance is no more than {DROP:.0%} "
                    f"below epoch {few}'s)."
                ),
                metric="per seed (clean classifier): mean distance at the last epoch / at the "
                "early epoch",
                keys=keys_for("clean"),
                control=NO_CONTROL,
                direction="greater",
                paper_text=ptext,
                inputs=clean_paths,
                evidence=lambda ctx, f=ev_curve: f(ctx, "clean", "few", "last", 1.0 - DROP),
                needs=_needs_distance(cfg, "clean") if conf else "",
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.fig6.clinging_without_labels",
                statement=(
                    "The clinging phase is induced by the data manifold, not the labels: a "
                    "network trained on random labels shows the same early drop (at least "
                    f"{DROP:.0%} by epoch {few})."
                ),
                metric="per seed (random-label classifier): mean distance at the early epoch / "
                "at initialisation",
                keys=keys_for("random_labels"),
                control="the same network at initialisation (ratio 1)",
                direction="less",
                margin=DROP,
                paper_text="Sec. 5.1: 'We look at the clinging phase as a phase induced by "
                "the data manifold and the dimpling phase as induced by the specific labels'",
                inputs=rl_paths,
                evidence=lambda ctx, f=ev_curve: f(ctx, "random_labels", "init", "few", 1.0),
                needs=_needs_distance(cfg, "random_labels") if conf else "",
                **base,
            )
        )
    return out


# ----------------------------------------------------------------------------- Sec. 5.1


def _sec51(cfg: Mapping) -> list[Claim]:
    out = []
    paper_data = "the paper's natural-image datasets (MNIST, CIFAR-10, ImageNet)"
    for ds, conf in _datasets(cfg, ()):
        needs = _needs_variants(cfg, "clean", "adversarial")
        clean = _attack_paths(cfg, ds, "clean")
        adv = _attack_paths(cfg, ds, "adversarial")
        eps_train = float(_dmm(cfg)[ds]["adversarial_training"]["eps"])

        def devs(ds=ds, constrained=True):
            parts = [
                _adv_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
            ]
            if constrained:
                parts += [
                    _manifold_devs(cfg, ds),
                    _samples_dev(cfg, ds),
                    _attack_devs(cfg, ds, "constrained"),
                ]
            return _devs(cfg, ds, paper_data, *parts)

        def ev_ratio_key(ctx, name, ds=ds):
            vals = _per_seed(ctx, _key(ds, None, f"adversarial_over_clean_{name}"))
            return Evidence(
                ours=vals,
                control=1.0,
                note=f"{len(vals)} seeds: per seed adversarial / clean of the image means",
            )

        def ev_pair(ctx, name, ds=ds):
            a = _per_seed(ctx, _key(ds, "adversarial", name))
            c = _per_seed(ctx, _key(ds, "clean", name))
            n = min(len(a), len(c))
            return Evidence(
                ours=a[:n],
                control=c[:n],
                paired=True,
                note=f"{n} seeds, adversarial vs clean classifier of the same seed",
            )

        def ev_depth(ctx, clean=clean, adv=adv, eps=eps_train):
            vals = []
            for pc, pa in zip(clean, adv, strict=True):
                dc = _mean_finite_rows([ctx.store(pc).c_distance.sel(attack="off").values])[0]
                da = _mean_finite_rows([ctx.store(pa).c_distance.sel(attack="off").values])[0]
                vals.append(da - dc)
            note = (
                f"{len(vals)} seeds: per seed mean off-manifold PGD distance (adversarial) "
                f"minus (clean), vs the adversarial-training eps {eps:g}"
            )
            return Evidence(ours=vals, control=eps, note=note)

        def ev_still_closer(ctx, adv=adv):
            def fn(s):
                d = s.c_distance
                return (d.sel(attack="on").values, d.sel(attack="off").values)

            a, b = _pooled(ctx, adv, fn)
            n_all = len(a)
            a, b = _finite(a, b)
            note = _pool_note(
                len(a),
                "images with both on- and off-manifold PGD successful",
                "adversarially trained",
                len(adv),
            )
            note += f" ({n_all - len(a)} of {n_all} left out: an attack failed within eps)"
            return Evidence(ours=a / b, control=1.0, note=note)

        k = lambda run, name, ds=ds: _key(ds, run, name)  # noqa: E731
        base = {
            "location": "Sec. 5.1",
            "kind": "adv_training",
            "needs": needs,
        }
        ptext = (
            "Sec. 5.1 (an argument; the paper reports no natural-image measurement): "
            "'the effect of the adversarial training on the decision boundary is a deepening "
            "of the dimples'; 'its dimples will have to go an extra distance of about 2 eps "
            "deeper than before'"
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.deeper_dimples",
                statement=(
                    "Adversarial training deepens the dimples: off-manifold adversarial "
                    "examples of the adversarially trained network are further from x than "
                    "those of the clean network."
                ),
                metric="per seed: mean off-manifold PGD distance, adversarially trained / "
                "clean classifier",
                keys=(k(None, "adversarial_over_clean_off_pgd_distance"),),
                control="the clean classifier of the same seed (ratio 1)",
                unit="seeds",
                test="t",
                direction="greater",
                paper_text=ptext,
                deviations=devs,
                inputs=(),
                evidence=lambda ctx, f=ev_ratio_key: f(ctx, "off_pgd_distance"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.dimple_depth_2eps",
                statement=(
                    "The dimples deepen by about the size of the adversarial training "
                    "perturbation (the paper's 2 eps: eps to the boundary plus eps beyond "
                    "it): the off-manifold distance grows by that amount within +/- 50%."
                ),
                metric="per seed: mean off-manifold PGD distance (adversarial) minus (clean), "
                "minus the adversarial-training eps",
                keys=(
                    k("adversarial", "off_pgd_distance"),
                    k("clean", "off_pgd_distance"),
                ),
                control=NO_CONTROL,
                unit="seeds",
                test="t",
                direction="within",
                margin=0.5 * eps_train,
                paper_value=eps_train,
                paper_text=ptext + " (2 eps in the paper's notation = the L2 size of the "
                f"training perturbations, here {eps_train:g})",
                deviations=devs,
                inputs=clean + adv if not needs else (),
                evidence=ev_depth,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.gradient_on_manifold_share",
                statement=(
                    "After adversarial training the input gradient has a more significant "
                    "on-manifold component: |Proj_M g| / |g| grows."
                ),
                metric="per seed: mean on-manifold share of the margin-loss input gradient, "
                "adversarially trained / clean classifier",
                keys=(
                    k(None, "adversarial_over_clean_gradient_on_manifold_share"),
                    k("clean", "gradient_on_manifold_share"),
                    k("adversarial", "gradient_on_manifold_share"),
                ),
                control="the clean classifier of the same seed (ratio 1)",
                unit="seeds",
                test="t",
                direction="greater",
                paper_text="Sec. 5.1: 'the dimples are deeper after adversarial training. As "
                "a result, the gradient will have a more significant on-manifold component'",
                deviations=devs,
                evidence=lambda ctx, f=ev_ratio_key: f(ctx, "gradient_on_manifold_share"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.partly_on_manifold_examples",
                statement=(
                    "Adversarial examples of adversarially trained networks are partly on-"
                    "manifold: their norm ratio R(d, M) is smaller than for the clean network."
                ),
                metric="per seed: mean R(d, M) of the Table 1 attack, adversarially trained "
                "vs clean classifier (paired by seed)",
                keys=(k("adversarial", "norm_ratio"), k("clean", "norm_ratio")),
                control="the clean classifier of the same seed",
                unit="seeds",
                test="t",
                direction="less",
                paper_text="Sec. 5.1: 'creating adversarial examples for robust networks will "
                "result in partly on-manifold examples that have some semblance to the "
                "adversarial class'",
                deviations=lambda ds=ds: _devs(
                    cfg,
                    ds,
                    paper_data,
                    _adv_devs(cfg, ds),
                    _classifier_devs(cfg, ds),
                    _data_devs(cfg, ds),
                    _manifold_devs(cfg, ds),
                    _samples_dev(cfg, ds),
                    _attack_devs(cfg, ds, "attack"),
                ),
                evidence=lambda ctx, f=ev_pair: f(ctx, "norm_ratio"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.off_manifold_still_closer",
                statement=(
                    "After adversarial training, a step in the off-manifold direction still "
                    "gives an adversarial example, just a bit further: off-manifold PGD "
                    "examples of the adversarially trained network remain closer than on-"
                    "manifold ones."
                ),
                metric="per image (adversarially trained classifier): on-manifold / off-"
                "manifold PGD distance",
                keys=(k("adversarial", "on_over_off_distance"),),
                control=NO_CONTROL,
                unit="images (pooled over seeds)",
                test="wilcoxon",
                direction="greater",
                paper_text="Sec. 5.1: 'taking a slightly larger step in the same off-manifold "
                "direction will also result in an adversarial example, just a bit further'",
                deviations=devs,
                inputs=adv if not needs else (),
                evidence=ev_still_closer,
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.sec5_1.accuracy_cost",
                statement=(
                    "Adversarial training may lose accuracy on regular test images (the "
                    "robustness-accuracy trade-off the model explains)."
                ),
                metric="per seed: clean test accuracy after the last epoch, adversarially "
                "trained vs clean classifier (paired by seed)",
                keys=(k("adversarial", "test_accuracy"), k("clean", "test_accuracy")),
                control="the clean classifier of the same seed",
                unit="seeds",
                test="t",
                direction="less",
                paper_text="Sec. 5.1: 'why we may lose accuracy for regular test images'; "
                "Sec. 4 item 4: 'more robust networks tend to be less accurate'",
                deviations=lambda ds=ds: devs(ds, constrained=False),
                evidence=lambda ctx, f=ev_pair: f(ctx, "test_accuracy"),
                **base,
            )
        )
    return out


# ----------------------------------------------------------------------------- Sec. 5.2


def _sec52(cfg: Mapping) -> list[Claim]:
    out = []
    schemes = list(_dmm(cfg)["mislabeled"]["schemes"])
    paper_data = "the paper's cats-vs-guacamole example (Ilyas et al.: CIFAR-10, ImageNet)"
    for ds, conf in _datasets(cfg, ()):
        for scheme in ("two_class", "det", "rand"):
            needs = (
                ""
                if scheme in schemes
                else f"needs the {scheme} scheme in dmm.mislabeled.schemes, which this config "
                "does not run"
            )
            if not needs and scheme != "two_class":
                needs = _needs_variants(cfg, "clean")  # N1 is the clean classifier
            run = f"mislabeled_{scheme}"

            def devs(ds=ds, scheme=scheme):
                return _devs(
                    cfg,
                    ds,
                    paper_data,
                    _mislabeled_devs(cfg, ds, scheme),
                    _classifier_devs(cfg, ds),
                    _data_devs(cfg, ds),
                )

            def ev_chance(ctx, ds=ds, run=run):
                vals = _per_seed(ctx, _key(ds, run, "n2_test_accuracy"))
                chance = float(ctx.metric(_key(ds, run, "chance")))
                note = f"{len(vals)} seeds: N2's clean test accuracy vs chance {chance:.3g}"
                return Evidence(ours=vals, control=chance, note=note)

            def ev_control(ctx, ds=ds, run=run):
                a = _per_seed(ctx, _key(ds, run, "n2_test_accuracy"))
                c = _per_seed(ctx, _key(ds, run, "control_test_accuracy"))
                note = f"{len(a)} seeds: N2 vs the control network of the same seed"
                return Evidence(ours=a, control=c, paired=True, note=note)

            label = {
                "two_class": "the paper's 2-class version (each image turned into the other class)",
                "det": "Ilyas et al.'s D_det (target y+1 mod C)",
                "rand": "Ilyas et al.'s D_rand (a random other class)",
            }[scheme]
            ptext = (
                "Sec. 5.2 (retelling Ilyas et al. 2019; no number in the paper): 'when the new "
                "network N2 is applied to the original test images, it has good accuracy, "
                "labeling a significant fraction of the cat images as cats'"
            )
            base = {
                "location": "Sec. 5.2",
                "unit": "seeds",
                "kind": "mislabeled",
                "test": "t",
                "direction": "greater",
                "paper_text": ptext,
                "deviations": devs,
                "needs": needs,
            }
            out.append(
                _make(
                    cfg,
                    ds,
                    conf,
                    id=f"dmm.sec5_2.n2_above_chance.{scheme}",
                    statement=(
                        "A fresh network N2 trained only on N1's targeted adversarial "
                        "examples, labelled with their (visually wrong) targets, has good "
                        f"accuracy on the clean test set: at least {ABOVE_CHANCE:g} above "
                        f"chance ({label})."
                    ),
                    metric="per seed: N2's accuracy on the clean test set (true labels)",
                    keys=(_key(ds, run, "n2_test_accuracy"), _key(ds, run, "chance")),
                    control="chance accuracy (1 / number of classes)",
                    margin=ABOVE_CHANCE,
                    evidence=ev_chance,
                    **base,
                )
            )
            out.append(
                _make(
                    cfg,
                    ds,
                    conf,
                    id=f"dmm.sec5_2.n2_above_control.{scheme}",
                    statement=(
                        "N2's clean test accuracy comes from the adversarial perturbations, "
                        "not the labels: it exceeds that of the same network trained on the "
                        f"unperturbed images with the same target labels ({label})."
                    ),
                    metric="per seed: N2's clean test accuracy minus the control network's",
                    keys=(
                        _key(ds, run, "n2_test_accuracy"),
                        _key(ds, run, "control_test_accuracy"),
                    ),
                    control="the control network: unperturbed training images, the same "
                    "target labels (a control the paper lacks)",
                    evidence=ev_control,
                    **base,
                )
            )
    return out


# ----------------------------------------------------------------------------- App. G, App. H


def _appg(cfg: Mapping) -> list[Claim]:
    out = []
    for ds, conf in _datasets(cfg, ("mnist", "cifar10", "imagenet"), pretrained=True):
        ref_ds = "mnist" if ds == "fashion_mnist" else ds
        ref = _RECONSTRUCTION_L2[ref_ds]
        path = registry.summary_inputs(cfg, ds)["autoencoder"] if conf else ""

        def ev(ctx, path=path, ref=ref):
            (v,) = _finite(*_pooled(ctx, (path,), lambda s: (s.test_l2.values,)))
            note = f"{len(v)} test images, one autoencoder (seeded once per dataset)"
            return Evidence(ours=v, control=CLOSE_FACTOR * ref, note=note)

        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appG.reconstruction_distance",
                location="App. G, App. D.3",
                statement=(
                    "The autoencoder's manifold lies close to the images: the mean L2 "
                    "distance between a test image and its reconstruction is of the paper's "
                    f"magnitude (at most {CLOSE_FACTOR:g} times its {ref:g} on "
                    f"{NAMES[ref_ds]})."
                ),
                metric="per test image: |x - decode(encode(x))|_2",
                keys=(
                    _key(ds, None, "autoencoder_test_l2"),
                    _key(ds, None, "autoencoder_test_mse"),
                ),
                control=f"{CLOSE_FACTOR:g} x the paper's mean L2 reconstruction distance on "
                f"{NAMES[ref_ds]} ({ref:g})",
                unit="test images",
                test="wilcoxon",
                direction="less",
                paper_value=None if ds == "fashion_mnist" else ref,
                paper_text="App. G: mean L2 distance 2.1 on MNIST (mean MSE 0.00003, 1000 "
                "epochs), 7.88 on CIFAR-10 (MSE 0.0001, 2000 test images of two classes), "
                "38.7601 on ImageNet (MSE 0.0001, 100 test images)",
                kind="autoencoder",
                deviations=lambda ds=ds: _devs(
                    cfg, ds, ALL_PAPER, _manifold_devs(cfg, ds), _data_devs(cfg, ds)
                ),
                inputs=(path,) if conf else (),
                evidence=ev,
            )
        )
    return out


def _apph(cfg: Mapping) -> list[Claim]:
    out = []
    paper_data = "ImageNet (a pre-trained ResNet50)"
    for ds, conf in _datasets(cfg, ("imagenet",), pretrained=True):
        needs = _needs_variants(cfg, "clean", ds=ds) if conf else ""
        paths = _attack_paths(cfg, ds, "clean") if conf else ()

        def devs(ds=ds):
            return _devs(
                cfg,
                ds,
                paper_data,
                _linf_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
                _samples_dev(cfg, ds),
                _attack_devs(cfg, ds, "attack"),
            )

        def ev_pair(ctx, a, b, paths=paths):
            x, y = _finite(*_pooled(ctx, paths, lambda s: (s[a].values, s[b].values)))
            note = _paths_note(len(x), "images with the attack(s) successful", paths)
            return Evidence(ours=x, control=y, paired=True, note=note + "; paired per image")

        k = lambda name, ds=ds: _key(ds, _run(cfg, ds), name)  # noqa: E731
        base = {
            "location": "App. H (Fig. 25-28)",
            "unit": "images (pooled over seeds)",
            "kind": "linf_l2",
            "deviations": devs,
            "inputs": paths,
            "needs": needs,
            "test": "wilcoxon",
        }
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appH.l2_follows_object",
                statement=(
                    "L2 adversarial perturbations follow the object: more of their energy "
                    "lies on object pixels than uniform noise would put there."
                ),
                metric="per image: share of the greedy L2 PGD perturbation's squared mass on "
                "object pixels",
                keys=(k("l2_object_share"), k("object_pixel_share")),
                control="uniform noise: the image's share of object pixels",
                direction="greater",
                paper_text="App. H: 'most of the changes happen within the figure, especially "
                "around its edges, which makes the perturbation have the general appearance "
                "of the original image' (ImageNet pictures; no number)",
                evidence=lambda ctx, f=ev_pair: f(ctx, "l2_object_share", "object_pixel_share"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appH.linf_uniform",
                statement=(
                    "L-inf adversarial perturbations look like random noise of almost uniform "
                    "amplitude inside and outside the object: their object share is within "
                    f"{UNIFORM_TOL:g} of the object-pixel share."
                ),
                metric="per image: share of the greedy L-inf PGD perturbation's squared mass "
                "on object pixels, minus the image's share of object pixels",
                keys=(k("linf_object_share"), k("object_pixel_share")),
                control="uniform noise: the image's share of object pixels",
                direction="within",
                margin=UNIFORM_TOL,
                paper_text="App. H: 'The L-inf perturbations thus look like random noise with "
                "almost uniform amplitude, which appears both inside and outside the "
                "classified object'",
                evidence=lambda ctx, f=ev_pair: f(ctx, "linf_object_share", "object_pixel_share"),
                **base,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appH.l2_more_object_than_linf",
                statement=(
                    "L2 perturbations are more object-shaped than L-inf ones: a larger share "
                    "of their energy lies on object pixels."
                ),
                metric="per image: L2 minus L-inf perturbation's object share (both attacks "
                "successful)",
                keys=(k("l2_object_share"), k("linf_object_share")),
                control="the L-inf perturbation of the same image",
                direction="greater",
                paper_text="App. H: L2 perturbations 'fit the object's general outline', "
                "L-inf ones look like uniform noise",
                evidence=lambda ctx, f=ev_pair: f(ctx, "l2_object_share", "linf_object_share"),
                **base,
            )
        )
    return out


# ----------------------------------------------------------------------------- entry point


# ----------------------------------------------------------------------------- controls


def _control_paths(cfg: Mapping, ds: str, variant: str) -> tuple[str, ...]:
    v = _run(cfg, ds, variant)
    return tuple(registry.run(ds, v, s, "controls.zarr") for s in _seeds_of(cfg, ds))


def _controls(cfg: Mapping) -> list[Claim]:
    """Issue 19's controls: a random subspace for the constrained attacks (Table 2), a
    random start for the Table 1 attack, the clipped uniform baseline of App. H."""
    out = []
    for ds, conf in _datasets(cfg, ("mnist", "cifar10", "imagenet"), pretrained=True):
        needs = _needs_variants(cfg, "clean", ds=ds) if conf else ""
        attacks = _attack_paths(cfg, ds, "clean") if conf else ()
        controls = _control_paths(cfg, ds, "clean") if conf else ()
        k = lambda name, ds=ds: _key(ds, _run(cfg, ds), name)  # noqa: E731

        def devs(ds=ds, which="constrained", random_start=False):
            att = _attack_devs(cfg, ds, which)
            return _devs(
                cfg,
                ds,
                ALL_PAPER,
                _manifold_devs(cfg, ds),
                _classifier_devs(cfg, ds),
                _data_devs(cfg, ds),
                _samples_dev(cfg, ds),
                att[:-1] if random_start else att,
            )

        def ev_paired(ctx, a, b, what, paths=controls, log=False):
            import numpy as np

            x, y = _finite(*_pooled(ctx, paths, lambda s: (s[a].values, s[b].values)))
            note = _paths_note(len(x), what, paths) + "; paired per image"
            if log:
                x, y = np.log(x), np.log(y)
                note += "; natural logs of the ratios"
            return Evidence(ours=x, control=y, paired=True, note=note)

        def ev_share(ctx, a, b, attacks=attacks, controls=controls):
            xs, ys = [], []
            for pa, pc in zip(attacks, controls, strict=True):
                (x,) = _pooled(ctx, (pa,), lambda s: (s[a].values,))
                (y,) = _pooled(ctx, (pc,), lambda s: (s[b].values,))
                xs.append(x)
                ys.append(y)
            import numpy as np

            x, y = _finite(np.concatenate(xs or [[]]), np.concatenate(ys or [[]]))
            note = _paths_note(len(x), "successfully attacked images", attacks)
            return Evidence(ours=x, control=y, paired=True, note=note + "; paired per image")

        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table2.on_off_ratio_vs_random_subspace",
                location="Table 2, Sec. 7.1, Sec. 5.1",
                statement=(
                    "The on-/off-manifold distance gap is about the manifold's directions: the "
                    "ratio of on- to off-manifold PGD distances is larger than the same ratio "
                    "for the same constrained attacks in a random subspace of the same "
                    "dimension k."
                ),
                metric="per image (clean classifier): log(on/off-manifold PGD distance) minus "
                "log(on/off-Q PGD distance), Q a uniformly random k-dim subspace",
                keys=(
                    k("on_over_off_distance"),
                    k("random_subspace_on_over_off_distance"),
                    k("on_over_off_per_image"),
                    k("random_subspace_on_over_off_per_image"),
                ),
                control="the same on-/off-subspace PGD (same eps, steps, on-step factor) in a "
                "uniformly random k-dim subspace Q per image (a control the paper lacks)",
                unit="images (pooled over seeds)",
                test="wilcoxon",
                direction="greater",
                paper_text="Sec. 7.1: 'Off-manifold adversarial examples are significantly "
                "closer to the test image than the on-manifold examples'",
                kind="controls",
                deviations=devs,
                inputs=controls,
                evidence=lambda ctx, f=ev_paired: f(
                    ctx,
                    "m_on_over_off",
                    "q_on_over_off",
                    "images with all four constrained attacks successful",
                    log=True,
                ),
                needs=needs,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.table1.norm_ratio_vs_random_subspace_random_start",
                location="Table 1, App. E.2, App. F",
                statement=(
                    "The Table 1 conclusion does not depend on the attack's start: from a "
                    "random start in the eps-ball (the default of the attack library the "
                    "paper names), R(d, M) is still larger than R(d, Q) for a random k-dim "
                    "subspace Q (the zero-start claim is "
                    "dmm.table1.norm_ratio_vs_random_subspace)."
                ),
                metric="R(d, M) minus R(d, Q) per successfully attacked image, greedy L2 PGD "
                "from a uniformly random start (clean classifier)",
                keys=(
                    k("random_start_norm_ratio"),
                    k("random_start_norm_ratio_random_subspace"),
                    k("random_start_pgd_success_rate"),
                    k("random_start_pgd_distance"),
                ),
                control="R(d, Q) of the same random-start perturbation on a uniformly random "
                "k-dim subspace Q",
                unit="images (pooled over seeds)",
                test="wilcoxon",
                direction="greater",
                paper_text="App. F: greedy PGD from Advertorch (random start by default); "
                "App. E.2: 'values larger than R-bar indicate actual preference of off-"
                "manifold over on-manifold dimensions'",
                kind="controls",
                deviations=lambda ds=ds: devs(ds, "attack", random_start=True),
                inputs=controls,
                evidence=lambda ctx, f=ev_paired: f(
                    ctx,
                    "rs_ratio",
                    "rs_ratio_random_subspace",
                    "successfully attacked images (random start)",
                ),
                needs=needs,
            )
        )
        happ = {
            "location": "App. H (Fig. 25-28)",
            "unit": "images (pooled over seeds)",
            "test": "wilcoxon",
            "kind": "controls",
            "deviations": lambda ds=ds: devs(ds, "attack"),
            "inputs": attacks + controls,
            "needs": needs,
        }
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appH.l2_follows_object_clipped_uniform",
                statement=(
                    "L2 adversarial perturbations follow the object: more of their energy lies "
                    "on object pixels than a uniform-magnitude random-sign perturbation of the "
                    "same L2 size puts there after the attack's clipping to [0, 1] (the "
                    "control; dmm.appH.l2_follows_object uses the unclipped pixel share)."
                ),
                metric="per image: object share of the L2 PGD perturbation's squared mass "
                "minus that of the clipped uniform perturbation",
                keys=(k("l2_object_share"), k("l2_uniform_object_share")),
                control="a uniform-magnitude random-sign perturbation with the L2 attack's norm, "
                "x + d clipped to [0, 1] (expected object share, exact)",
                direction="greater",
                paper_text="App. H: 'most of the changes happen within the figure' (no number)",
                evidence=lambda ctx, f=ev_share: f(
                    ctx, "l2_object_share", "l2_uniform_object_share"
                ),
                **happ,
            )
        )
        out.append(
            _make(
                cfg,
                ds,
                conf,
                id="dmm.appH.linf_uniform_clipped",
                statement=(
                    "L-inf adversarial perturbations have almost uniform amplitude inside and "
                    "outside the object: their object share is within "
                    f"{UNIFORM_TOL:g} of that of a uniform-magnitude random-sign perturbation "
                    "of the same L-inf size after clipping to [0, 1] (the control; "
                    "dmm.appH.linf_uniform uses the unclipped pixel share)."
                ),
                metric="per image: object share of the L-inf PGD perturbation's squared mass "
                "minus that of the clipped uniform perturbation",
                keys=(k("linf_object_share"), k("linf_uniform_object_share")),
                control="a uniform-magnitude random-sign perturbation of the L-inf attack's "
                "size, x + d clipped to [0, 1] (expected object share, exact)",
                direction="within",
                margin=UNIFORM_TOL,
                paper_text="App. H: 'The L-inf perturbations thus look like random noise with "
                "almost uniform amplitude, which appears both inside and outside the "
                "classified object'",
                evidence=lambda ctx, f=ev_share: f(
                    ctx, "linf_object_share", "linf_uniform_object_share"
                ),
                **happ,
            )
        )
    return out


def _trained_variants(cfg: Mapping) -> list[Claim]:
    """Sec. 5.1 (adversarial training) and App. A (Gaussian-noise training) in full: the
    on-manifold distance changes little, and noise training deepens the dimples too."""
    out = []
    paper_data = "the paper's natural-image datasets (MNIST, CIFAR-10, ImageNet)"
    for ds, conf in _datasets(cfg, ()):
        for trained in ("adversarial", "noise"):
            needs = _needs_variants(cfg, "clean", trained)
            label = {"adversarial": "adversarially trained", "noise": "Gaussian-noise trained"}[
                trained
            ]

            def devs(ds=ds, trained=trained):
                parts = [
                    _classifier_devs(cfg, ds),
                    _data_devs(cfg, ds),
                    _manifold_devs(cfg, ds),
                    _samples_dev(cfg, ds),
                    _attack_devs(cfg, ds, "constrained"),
                ]
                if trained == "adversarial":
                    parts.insert(0, _adv_devs(cfg, ds))
                else:
                    sigma = _dmm(cfg)[ds]["noise_training"]["sigma"]
                    parts.insert(
                        0,
                        [
                            Deviation(
                                f"Gaussian noise sigma = {sigma:g} per pixel, not clipped",
                                "the paper names no noise level (App. A); the config's choice",
                            )
                        ],
                    )
                return _devs(cfg, ds, paper_data, *parts)

            def ev_ratio(ctx, name, ds=ds, trained=trained):
                vals = _per_seed(ctx, _key(ds, None, f"{trained}_over_clean_{name}"))
                return Evidence(
                    ours=vals,
                    control=1.0,
                    note=f"{len(vals)} seeds: per seed {trained} / clean of the image means",
                )

            k = lambda name, trained=trained, ds=ds: _key(  # noqa: E731
                ds, None, f"{trained}_over_clean_{name}"
            )
            base = {
                "unit": "seeds",
                "test": "t",
                "kind": "adv_training",
                "deviations": devs,
                "needs": needs,
                "control": "the clean classifier of the same seed (ratio 1)",
            }
            loc = "Sec. 5.1" if trained == "adversarial" else "App. A"
            if trained == "noise":
                ptext = (
                    "App. A: 'training using a random noise will also deepen the dimples in "
                    "off-manifold dimensions, which can be compared to the similar effect "
                    "caused by adversarial training'"
                )
                out.append(
                    _make(
                        cfg,
                        ds,
                        conf,
                        id="dmm.appA.noise_deeper_dimples",
                        location=loc,
                        statement=(
                            "Gaussian-noise training deepens the dimples: off-manifold PGD "
                            "examples of the noise-trained network are further from x than "
                            "those of the clean network."
                        ),
                        metric="per seed: mean off-manifold PGD distance, noise-trained / "
                        "clean classifier",
                        keys=(k("off_pgd_distance"),),
                        direction="greater",
                        paper_text=ptext,
                        evidence=lambda ctx, f=ev_ratio: f(ctx, "off_pgd_distance"),
                        **base,
                    )
                )
                out.append(
                    _make(
                        cfg,
                        ds,
                        conf,
                        id="dmm.appA.noise_gradient_on_manifold_share",
                        location=loc,
                        statement=(
                            "Like adversarial training (Sec. 5.1), Gaussian-noise training's "
                            "deeper dimples give the input gradient a larger on-manifold share."
                        ),
                        metric="per seed: mean |Proj_M g| / |g|, noise-trained / clean",
                        keys=(k("gradient_on_manifold_share"),),
                        direction="greater",
                        paper_text=ptext + "; Sec. 5.1: deeper dimples give 'the gradient ... a "
                        "more significant on-manifold component'",
                        evidence=lambda ctx, f=ev_ratio: f(ctx, "gradient_on_manifold_share"),
                        **base,
                    )
                )
            out.append(
                _make(
                    cfg,
                    ds,
                    conf,
                    id=f"dmm.sec5_1.on_manifold_distance_little_change.{trained}",
                    location=loc,
                    statement=(
                        f"The {label} network's decision boundary stays where clinging put it "
                        "along the manifold: its on-manifold PGD distance is within "
                        f"{LITTLE_CHANGE:g} (relative) of the clean network's, while the "
                        "dimples deepen off the manifold."
                    ),
                    metric=f"per seed: mean on-manifold PGD distance, {label} / clean",
                    keys=(k("on_pgd_distance"), k("off_pgd_distance")),
                    direction="within",
                    margin=LITTLE_CHANGE,
                    paper_text="Sec. 5.1: 'one can assume that the clinging phase will not "
                    "change much ... the major effect of the adversarial training is within "
                    "the dimples phase'"
                    + ("" if trained == "adversarial" else "; App. A likens noise training"),
                    evidence=lambda ctx, f=ev_ratio: f(ctx, "on_pgd_distance"),
                    **base,
                )
            )
    return out


def _similarity(cfg: Mapping) -> list[Claim]:
    """Sec. 5.2's claim itself: N2's decision boundary is very similar to N1's."""
    out = []
    schemes = list(_dmm(cfg)["mislabeled"]["schemes"])
    paper_data = "the paper's cats-vs-guacamole example (Ilyas et al.: CIFAR-10, ImageNet)"
    measures = {
        "agreement_clean": "share of clean test points on which both predict the same class",
        "agreement_adv": "share of N1's greedy L2 adversarial examples of the test points "
        "on which both predict the same class (points just across N1's boundary)",
        "grad_cosine": "mean cosine of the two networks' margin-loss input gradients at the "
        "test points",
    }
    for ds, conf in _datasets(cfg, ()):
        for scheme in ("two_class", "det", "rand"):
            needs = (
                ""
                if scheme in schemes
                else f"needs the {scheme} scheme in dmm.mislabeled.schemes, which this config "
                "does not run"
            )
            if not needs and scheme != "two_class":
                needs = _needs_variants(cfg, "clean")
            run = f"mislabeled_{scheme}"
            for m, what in measures.items():

                def ev(ctx, ds=ds, run=run, m=m):
                    a = _per_seed(ctx, _key(ds, run, f"n2_{m}"))
                    c = _per_seed(ctx, _key(ds, run, f"baseline_{m}"))
                    note = (
                        f"{len(a)} seeds: N1-N2 vs N1-baseline (an independently trained clean "
                        "network: another seed's clean classifier, or one trained in the job "
                        "with one seed and for two_class)"
                    )
                    return Evidence(ours=a, control=c, paired=True, note=note)

                out.append(
                    _make(
                        cfg,
                        ds,
                        conf,
                        id=f"dmm.sec5_2.boundary_similar_{m}.{scheme}",
                        location="Sec. 5.2, Fig. 4",
                        statement=(
                            "N2's decision boundary is very similar to N1's: by the "
                            f"{m.replace('_', ' ')} measure, N2 is at least as similar to N1 as "
                            "an independently trained clean network is (not less similar by "
                            f"more than {SIMILAR:g})."
                        ),
                        metric=f"per seed: {what}; N1 vs N2 minus N1 vs the baseline network",
                        keys=(_key(ds, run, f"n2_{m}"), _key(ds, run, f"baseline_{m}")),
                        control="N1 vs an independently trained clean network (same data, "
                        "another seed): the similarity of two ordinary networks",
                        unit="seeds",
                        test="t",
                        direction="at_least",
                        margin=SIMILAR,
                        paper_text="Sec. 5.2: 'which creates very similar decision boundaries "
                        "in N1 and N2'; 'the two cat'ness decision boundaries in them are "
                        "actually very similar to each other'",
                        kind="similarity",
                        deviations=lambda ds=ds, scheme=scheme: _devs(
                            cfg,
                            ds,
                            paper_data,
                            _mislabeled_devs(cfg, ds, scheme),
                            _classifier_devs(cfg, ds),
                            _data_devs(cfg, ds),
                        ),
                        evidence=ev,
                        needs=needs,
                    )
                )
    return out


# ----------------------------------------------------------------------------- entry point


def claims(cfg: Mapping) -> list[Claim]:
    """Every claim of the natural-image DMM experiments for this config."""
    return [
        *_appg(cfg),
        *_table1(cfg),
        *_fig7(cfg),
        *_table2(cfg),
        *_fig6(cfg),
        *_sec51(cfg),
        *_sec52(cfg),
        *_apph(cfg),
        *_controls(cfg),
        *_trained_variants(cfg),
        *_similarity(cfg),
        *ablation_claims.claims(cfg),
    ]
