"""The boundary-tilting study's claims (Tanay & Griffin 2016; the tilting article) for the
ledger.

One :class:`~pipeline_lib.ledger.Claim` per measurable claim of the two texts, per
configured sweep dataset (the article's own problem, MNIST 2 vs 3, is declared as well,
not testable where the config does not sweep MNIST), plus the Fig. 3/4 toy. The article
gives no numbers (its Fig. 6 is an interactive slider), so no claim has a paper value;
the decision rules below are fixed from the texts' wording before any result is read.

The SVM fit is convex and deterministic: every lambda's fit starts from w = 0 and draws
no random number, so there is no seed to replicate over. Claims about one fit are judged
over what varies within it: the test images (exact per-image minimal L2 distances and
correctness, recomputed from the stored w, b and the prepared images), the projected
training points (Fig. 5), or the lambda values of the sweep (monotone trends, Spearman).
Where a claim is about a single number of a single fit (the cosine at the largest lambda,
the toy's angles) it has one replicate and the engine can only call it inconclusive.

Imported when the Snakefile is parsed: nothing numerical at module level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipeline_lib.ledger import NO_CONTROL, Claim, Deviation, Evidence, dataset_deviation

from . import registry

TA = "tilting_article"
TG = "tanay_griffin"
PAPER_DATASET = "mnist"
PAPER_CLASSES = (2, 3)  # the article's "2 versus 3 MNIST problem" (Fig. 5, 6)
PAPER_PROBLEM = "MNIST digits 2 vs 3"
FULL_SIZES = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000)}

# Decision rules, fixed from the texts' wording before any result is read.
TREND = 0.5  # "controls" / "depends on" lambda: a clear monotone trend, |Spearman rho| > 0.5
FACTOR = math.log(2.0)  # "vulnerability" changes: distances at least double (mean log ratio)
ACC_CLOSE = 0.10  # "independently of the classification performance": within 10 points
WELL_ABOVE_CHANCE = 0.20  # "classify well": test accuracy above 0.5 + 0.2 = 0.7
PERFECT = 0.99  # "separate the training data perfectly": training accuracy above 0.99
OVERFIT_GAP = 0.05  # "overfits its training data": train accuracy 5+ points above test
COSINE = 0.95  # "simply consists in a difference of centroids": cosine >= 0.95
TOY_TILT_DEG = 10.0  # "tilted": at least 10 degrees more than the 2-D fit
TOY_UNTILT_DEG = 1.0  # "bisects": within 1 degree of the centroid difference

# why the perturbation claims restate the angle claims (issue: claims by construction)
ALONG_W = (
    "the minimal L2 perturbation of a linear classifier is along w, so its cosine with the "
    "centroid difference is the cosine of the tilting angle, "
)

DETERMINISTIC = (
    "one deterministic fit per lambda (convex SVM from w = 0, no seed: nothing to "
    "replicate over training runs)"
)
NO_NUMBER = "no number: the article's Fig. 6 is an interactive slider over lambda"


# ----------------------------------------------------------------------------- config


def _datasets(cfg: Mapping) -> list[str]:
    """The configured sweep datasets, then the article's (MNIST) if it is not among them."""
    out = list(cfg["tilting"]["datasets"])
    return out if PAPER_DATASET in out else [*out, PAPER_DATASET]


def _classes(cfg: Mapping, d: str) -> tuple[int, int]:
    spec = cfg["tilting"].get(d) or {}
    return tuple(spec.get("classes", PAPER_CLASSES if d == PAPER_DATASET else (2, 4)))


def _figure(cfg: Mapping, d: str, kind: str):
    for f in registry.figures(cfg):
        if f.name == f"tilting_{d}_{kind}":
            return f
    return None


def _data_path(cfg: Mapping, d: str) -> str:
    return _figure(cfg, d, "angle").inputs["data"]


def _deviations(cfg: Mapping, d: str, *extra: Deviation) -> tuple[Deviation, ...]:
    out: list[Deviation] = []
    cls = _classes(cfg, d)
    if d != PAPER_DATASET:
        out += dataset_deviation(d, PAPER_PROBLEM)
    if tuple(cls) != PAPER_CLASSES or d != PAPER_DATASET:
        out.append(
            Deviation(
                f"classes: {d} {cls[0]} (label -1) vs {cls[1]} (+1) instead of {PAPER_PROBLEM}",
                "the classes chosen in the config (tilting.<dataset>.classes)",
            )
        )
    nat = cfg.get("natural", {}).get(d, {})
    n_tr, n_te = nat.get("n_train"), nat.get("n_test")
    full = FULL_SIZES.get(d, (None, None))
    if n_tr is not None and full[0] is not None and (n_tr < full[0] or n_te < full[1]):
        k = max(len(nat.get("classes", range(10))), 2)
        out.append(
            Deviation(
                f"scale: a stratified subset of {n_tr} training / {n_te} test images over "
                f"{k} classes (about {2 * n_tr // k} / {2 * n_te // k} of the two classes) "
                "instead of the full training and test sets",
                "sized for a 2-core CPU (natural.<dataset>.n_train / n_test)",
            )
        )
    lam = cfg["tilting"]["lambdas"]
    out.append(
        Deviation(
            f"regularisation grid: {lam['n']} log-spaced lambda from {lam['min']:g} to "
            f"{lam['max']:g} of lambda/2 |w|^2 + mean hinge (lambda = 1/(n C))",
            "the article's slider values are not given",
        )
    )
    out.append(
        Deviation(
            "SVM solver: our own primal Newton method on a smoothed hinge, stopped by a "
            f"duality-gap certificate |w - w*| <= {cfg['tilting']['tol']:g} |w|",
            "the article does not name its solver; ours is certified by its duality gap and "
            "checked against a brute-force QP in the tests",
        )
    )
    return (*out, *extra)


UNCLIPPED = Deviation(
    "adversarial distance: the exact minimal L2 distance |w.x + b| / |w| to the linear "
    "boundary, without clipping to the pixel range",
    "the exact minimal perturbation of a linear classifier; the texts do not say whether they clip",
)
TEST_SELECTED = Deviation(
    "the best lambda is chosen on the same test images (no validation split)",
    "the pipeline has no validation split; picking lambda on the test images biases that "
    "lambda's test accuracy upwards",
)


def _untestable(d: str) -> str:
    return (
        f"needs a tilting sweep on {d} (tilting.datasets including {d}, classes "
        f"{list(PAPER_CLASSES) if d == PAPER_DATASET else '[a, b]'}, and {d} in "
        "natural.datasets), which this config does not run"
    )


# ----------------------------------------------------------------------------- evidence

_CACHE: dict = {}


def _sweep(ctx, path: str) -> dict:
    """The sweep's per-lambda arrays, in increasing lambda."""
    import numpy as np

    s = ctx.store(path).sortby("lam")
    out = {"lam": np.asarray(s.lam.values, dtype=np.float64)}
    for k in (
        "tilting_angle",
        "mean_test_distance",
        "median_test_distance",
        "perturbation_cosine",
        "test_accuracy",
        "train_accuracy",
        "b",
        "converged",
    ):
        out[k] = np.asarray(s[k].values)
    out["w"] = np.asarray(s.w.values, dtype=np.float64)
    out["classes"] = [int(c) for c in s.attrs["classes"]]
    out["n_not_converged"] = int((~out["converged"].astype(bool)).sum())
    return out


def _split(ctx, data_path: str, classes, part: str):
    """The two classes of one split as (x, y), x flat float64, y -1/+1: the same images,
    order and labels as ``pipeline_lib.natural.binary_split`` (class a -> -1, b -> +1)."""
    import numpy as np

    ds = ctx.store(data_path)
    a, b = classes
    labels = np.asarray(ds.label.values)
    sel = (np.asarray(ds.split.values) == part) & np.isin(labels, (a, b))
    idx = np.flatnonzero(sel)
    x = np.asarray(ds.image.isel(sample=idx).values, dtype=np.float64).reshape(idx.size, -1)
    y = np.where(labels[idx] == b, 1.0, -1.0)
    return x, y


def _per_image(ctx, sweep_path: str, data_path: str, part: str) -> dict:
    """Per image of ``part`` and per lambda: the exact L2 distance to the boundary
    |w.x + b| / |w| and the correctness (sign(w.x + b) == y), checked against the sweep's
    own per-lambda summaries (a mismatch means the images are not the sweep's)."""
    import numpy as np

    if _CACHE.get("ctx") is not ctx:  # a new run: forget the previous one's arrays
        _CACHE.clear()
        _CACHE["ctx"] = ctx
    key = (sweep_path, data_path, part)
    if key in _CACHE:
        return _CACHE[key]
    s = _sweep(ctx, sweep_path)
    x, y = _split(ctx, data_path, s["classes"], part)
    f = x @ s["w"].T + s["b"][None, :]  # (n_images, n_lam)
    dist = np.abs(f) / np.linalg.norm(s["w"], axis=1)[None, :]
    correct = (np.sign(f) == y[:, None]).astype(np.float64)
    acc_key = "test_accuracy" if part == "test" else "train_accuracy"
    tol = 1.5 / max(len(y), 1)
    if not np.allclose(correct.mean(axis=0), s[acc_key], rtol=0.0, atol=tol):
        raise ValueError(f"{data_path} {part} images do not reproduce {sweep_path}'s {acc_key}")
    if part == "test" and not np.allclose(dist.mean(axis=0), s["mean_test_distance"], rtol=1e-6):
        raise ValueError(f"{data_path} test images do not reproduce {sweep_path}'s distances")
    out = {"sweep": s, "dist": dist, "correct": correct, "n": len(y)}
    _CACHE[key] = out
    return out


def _lam_note(s: dict, extra: str = "") -> str:
    n = len(s["lam"])
    base = (
        f"{n} lambda values from {s['lam'][0]:g} to {s['lam'][-1]:g}, one deterministic "
        f"fit each ({s['n_not_converged']} not certified converged)"
    )
    return f"{base}; {extra}" if extra else base


def _ev_trend(path: str, y_name: str, x_name: str = "log_lam"):
    """Spearman trend over the sweep's lambda values: (x, y) per lambda."""

    def ev(ctx):
        import numpy as np

        s = _sweep(ctx, path)
        x = np.log(s["lam"]) if x_name == "log_lam" else np.asarray(s[x_name], float)
        y = np.asarray(s[y_name], dtype=np.float64)
        vals = ", ".join(f"{v:.4g}" for v in y)
        return Evidence(
            ours=(x, y),
            control=0.0,
            note=_lam_note(s, f"{y_name} over increasing lambda: {vals}"),
        )

    return ev


def _ev_bootstrap_trend(key: str, what: str):
    """Per bootstrap resample of the training set: Spearman's rho over the sweep."""

    def ev(ctx):
        rho = [float("nan") if v is None else float(v) for v in ctx.metric(key)["per_seed"]]
        return Evidence(
            ours=rho,
            control=0.0,
            note=f"Spearman rho(log lambda, {what}) of each of {len(rho)} bootstrap resamples "
            "of the training set (stratified by class, with replacement), each refitted over "
            "the whole lambda sweep: the spread the trend owes to the training set",
        )

    return ev


def _ev_distance(sweep_path: str, data_path: str, which: str):
    """Per test image: log distance at lambda ``which`` (high / best) vs at the smallest
    lambda (paired over the same test images)."""

    def ev(ctx):
        import numpy as np

        p = _per_image(ctx, sweep_path, data_path, "test")
        s, dist = p["sweep"], p["dist"]
        if which == "high":
            j = len(s["lam"]) - 1
        else:  # best test accuracy, ties: the largest lambda (as best_lam)
            acc = np.asarray(s["test_accuracy"], dtype=np.float64)
            j = int(np.flatnonzero(acc == np.nanmax(acc))[-1])
        with np.errstate(divide="ignore"):
            ours, ctrl = np.log(dist[:, j]), np.log(dist[:, 0])
        ok = np.isfinite(ours) & np.isfinite(ctrl)
        ratio = float(np.exp(np.mean(ours[ok] - ctrl[ok]))) if ok.any() else math.nan
        return Evidence(
            ours=ours,
            control=ctrl,
            paired=True,
            note=(
                f"natural log of the exact L2 distance to the boundary of each of {p['n']} "
                f"test images at lambda {s['lam'][j]:g} vs at lambda {s['lam'][0]:g} "
                f"(geometric-mean ratio {ratio:.3g}; mean distance "
                f"{dist[:, j].mean():.4g} vs {dist[:, 0].mean():.4g}); "
                f"{DETERMINISTIC}"
            ),
        )

    return ev


def _ev_accuracy_vs_best(sweep_path: str, data_path: str):
    def ev(ctx):
        import numpy as np

        p = _per_image(ctx, sweep_path, data_path, "test")
        s, correct = p["sweep"], p["correct"]
        i = int(np.nanargmax(np.asarray(s["tilting_angle"], dtype=np.float64)))
        acc = correct.mean(axis=0)
        j = int(np.flatnonzero(acc == acc.max())[-1])
        return Evidence(
            ours=correct[:, i],
            control=correct[:, j],
            paired=True,
            note=(
                f"correctness (0/1) of each of {p['n']} test images under the most tilted "
                f"boundary (lambda {s['lam'][i]:g}, {s['tilting_angle'][i]:.3g} deg, "
                f"accuracy {acc[i]:.4f}) vs the best one (lambda {s['lam'][j]:g}, accuracy "
                f"{acc[j]:.4f}); paired signed-rank on the differences (a McNemar-like "
                f"sign test); {DETERMINISTIC}"
            ),
        )

    return ev


def _ev_accuracy_tilted(sweep_path: str, data_path: str):
    def ev(ctx):
        import numpy as np

        p = _per_image(ctx, sweep_path, data_path, "test")
        s = p["sweep"]
        i = int(np.nanargmax(np.asarray(s["tilting_angle"], dtype=np.float64)))
        return Evidence(
            ours=p["correct"][:, i],
            control=0.5,
            note=(
                f"correctness (0/1) of each of {p['n']} test images under the most tilted "
                f"boundary (lambda {s['lam'][i]:g}, {s['tilting_angle'][i]:.3g} deg) vs "
                f"chance 0.5; {DETERMINISTIC}"
            ),
        )

    return ev


def _ev_train_separated(sweep_path: str, data_path: str):
    def ev(ctx):
        p = _per_image(ctx, sweep_path, data_path, "train")
        s = p["sweep"]
        return Evidence(
            ours=p["correct"][:, 0],
            control=PERFECT,
            note=(
                f"training correctness (0/1) of each of {p['n']} training images at the "
                f"smallest lambda {s['lam'][0]:g} ({s['tilting_angle'][0]:.3g} deg); "
                f"{DETERMINISTIC}"
            ),
        )

    return ev


def _ev_overfit(sweep_path: str, data_path: str):
    def ev(ctx):
        tr = _per_image(ctx, sweep_path, data_path, "train")
        te = _per_image(ctx, sweep_path, data_path, "test")
        s = te["sweep"]
        return Evidence(
            ours=tr["correct"][:, 0],
            control=te["correct"][:, 0],
            note=(
                f"correctness (0/1) of {tr['n']} training vs {te['n']} test images at the "
                f"smallest lambda {s['lam'][0]:g} (independent groups, Fisher); "
                f"{DETERMINISTIC}"
            ),
        )

    return ev


def _ev_cosine_high(key: str):
    def ev(ctx):
        v = ctx.value(key)
        return Evidence(
            ours=[math.nan if v is None else float(v)],
            control=COSINE,
            note=(
                "a single number: for a linear classifier every image's minimal "
                "perturbation is along w, so its cosine with the centroid difference is "
                "cos(tilting angle) for every test image alike (no spread over images); "
                f"{DETERMINISTIC}"
            ),
        )

    return ev


def _ev_hug(sweep_path: str):
    """Per projected training point: log distance to the boundary line in the tilting
    plane (exact: w lies in the plane) at the smallest vs the largest lambda."""

    def ev(ctx):
        import numpy as np

        st = ctx.store(sweep_path).sortby("lam")
        proj = np.asarray(st.projection.values, dtype=np.float64)  # (lam, sample, 2)
        bnd = np.asarray(st.boundary.values, dtype=np.float64)  # (lam, 3)
        a, c, e = bnd[:, 0:1], bnd[:, 1:2], bnd[:, 2:3]
        dist = np.abs(a * proj[..., 0] + c * proj[..., 1] + e) / np.hypot(a, c)
        with np.errstate(divide="ignore"):
            ours, ctrl = np.log(dist[0]), np.log(dist[-1])
        lam = st.lam.values
        return Evidence(
            ours=ours,
            control=ctrl,
            paired=True,
            note=(
                f"natural log of the distance of each of {dist.shape[1]} projected training "
                f"points to the boundary in its tilting plane at lambda {lam[0]:g} vs "
                f"{lam[-1]:g} (median distance {np.median(dist[0]):.4g} vs "
                f"{np.median(dist[-1]):.4g}); {DETERMINISTIC}"
            ),
        )

    return ev


def _ev_toy_pair(key: str, control_key: str | None, note: str):
    def ev(ctx):
        v = ctx.value(key)
        ours = [math.nan if v is None else float(v)]
        if control_key is None:
            return Evidence(ours=ours, control=0.0, note=note)
        c = ctx.value(control_key)
        return Evidence(
            ours=ours, control=[math.nan if c is None else float(c)], paired=True, note=note
        )

    return ev


def _ev_toy_accuracy(key: str, control_key: str, n_test: int):
    def ev(ctx):
        def counts(k):
            acc = ctx.value(k)
            hits = int(round(float(acc) * n_test))
            return [1.0] * hits + [0.0] * (n_test - hits)

        return Evidence(
            ours=counts(key),
            control=counts(control_key),
            note=(
                f"correctness counts of the {n_test} toy test points (a second seeded draw) "
                "rebuilt from the test accuracies (independent groups, Fisher)"
            ),
        )

    return ev


# ----------------------------------------------------------------------------- claims


def _dataset_claims(cfg: Mapping, d: str) -> list[Claim]:
    testable = d in cfg["tilting"]["datasets"]
    why = "" if testable else _untestable(d)
    pre = f"tilting/{d}/"
    sweep_path = registry.sweep(d)
    data_path = _data_path(cfg, d) if testable else ""
    sweep_in = (sweep_path,) if testable else ()
    both_in = (sweep_path, data_path) if testable else ()

    def fig(kind: str) -> str:
        return f"tilting_{d}_{kind}" if testable else ""

    def keys(*names: str) -> tuple[str, ...]:
        return tuple(pre + n for n in names) if testable else ()

    def ev(f):
        return f if testable else None

    devs = _deviations(cfg, d) if testable else ()

    def dv(*extra: Deviation) -> tuple[Deviation, ...]:
        return (*devs, *extra) if testable else ()

    lam_unit = f"lambda values ({DETERMINISTIC})"
    img_unit = f"test images ({DETERMINISTIC})"
    cls = _classes(cfg, d)
    where = f"{d} {cls[0]} vs {cls[1]}"
    max_proj = cfg["tilting"].get("max_projected", 2000)
    n_boot = int(cfg["tilting"].get("bootstrap", 0))
    why_boot = why or (
        ""
        if n_boot
        else "needs bootstrap resamples of the training set (tilting.bootstrap > 0), which "
        "this config does not draw"
    )
    boot_ok = not why_boot
    boot_unit = (
        f"bootstrap resamples of the training set ({n_boot}; each a deterministic fit per lambda)"
    )
    boot_claims = [
        Claim(
            id=f"tilting.fig6.{name}_trend_across_training_sets.{d}",
            paper=TA,
            location="Fig. 6 and its text",
            statement=(
                f"The {what} trend over the regularisation level holds across training sets, "
                "not only for the one fitted: over bootstrap resamples of the training set, "
                f"the mean Spearman rho(log lambda, {what}) is {side} {sign}{TREND:g} (t "
                "interval over the resamples)."
            ),
            paper_text=NO_NUMBER,
            metric=(
                f"{where}: per bootstrap resample of the training set, Spearman rank "
                f"correlation over the sweep's lambda values between log lambda and the {what}"
            ),
            metric_keys=(pre + f"bootstrap_{name}_spearman_log_lam", pre + "bootstrap_replicates")
            if boot_ok
            else (),
            control="no trend (rho = 0)",
            unit=boot_unit,
            test="t",
            direction=direction,
            margin=TREND,
            deviations=(dv(UNCLIPPED) if name == "distance" else devs) if boot_ok else (),
            figure=fig("angle"),
            inputs=(),
            evidence=_ev_bootstrap_trend(pre + f"bootstrap_{name}_spearman_log_lam", what)
            if boot_ok
            else None,
            not_testable=why_boot,
        )
        for name, what, side, sign, direction in (
            ("angle", "tilting angle", "below", "-", "less"),
            ("distance", "mean test distance", "above", "", "greater"),
        )
    ]
    return [
        Claim(
            id=f"tilting.fig6.angle_trend.{d}",
            paper=TA,
            location="Fig. 6 and its text",
            statement=(
                "The level of L2 regularisation controls the tilting angle: weakly "
                "regularised SVM boundaries are strongly tilted, strongly regularised ones "
                "untilt towards the nearest-centroid boundary (a monotone decrease: "
                f"Spearman rho(log lambda, angle) below -{TREND:g})."
            ),
            paper_text=NO_NUMBER,
            metric=(
                f"{where}: Spearman rank correlation over the sweep's lambda values between "
                "log lambda and the tilting angle between w and the centroid difference"
            ),
            metric_keys=keys(
                "angle_spearman_log_lam",
                "angle_spearman_pvalue",
                "angle_monotone_fraction",
                "tilting_angle_deg_low_reg",
                "tilting_angle_deg_high_reg",
                "claim_angle_decreases",
                "all_converged",
            ),
            control="no trend (rho = 0)",
            unit=lam_unit,
            test="spearman",
            direction="less",
            margin=TREND,
            deviations=devs,
            figure=fig("angle"),
            inputs=sweep_in,
            evidence=ev(_ev_trend(sweep_path, "tilting_angle")),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.fig6.distance_grows.{d}",
            paper=TA,
            location="Fig. 6 and its text",
            statement=(
                "The regularisation level controls the boundary's vulnerability: the "
                "minimal adversarial distance of the test images grows as the boundary "
                "untilts (at the largest lambda at least twice that at the smallest, in "
                "geometric mean over test images)."
            ),
            paper_text=(
                NO_NUMBER + "; 'when regularization is low, the adversarial perturbation is "
                "barely perceptible ... when regularization is high ... clearly visible'"
            ),
            metric=(
                f"{where}: per test image, log of the exact L2 distance |w.x+b|/|w| to the "
                "boundary at the largest lambda minus at the smallest (mean over images)"
            ),
            metric_keys=keys(
                "mean_test_distance_low_reg",
                "mean_test_distance_high_reg",
                "median_test_distance_low_reg",
                "median_test_distance_high_reg",
                "claim_distance_increases",
            ),
            control="the same test images' distances at the smallest lambda (paired)",
            unit=img_unit,
            test="wilcoxon",
            direction="greater",
            margin=FACTOR,
            deviations=dv(UNCLIPPED),
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_distance(sweep_path, data_path, "high")),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.fig6.distance_trend.{d}",
            paper=TA,
            location="Fig. 6",
            statement=(
                "The adversarial distance increases monotonically with the regularisation "
                f"level (Spearman rho(log lambda, mean test distance) above {TREND:g})."
            ),
            paper_text=NO_NUMBER,
            metric=(
                f"{where}: Spearman rank correlation over the sweep's lambda values between "
                "log lambda and the mean L2 distance of the test images to the boundary"
            ),
            metric_keys=keys(
                "per_lam", "mean_test_distance_low_reg", "mean_test_distance_high_reg"
            ),
            control="no trend (rho = 0)",
            unit=lam_unit,
            test="spearman",
            direction="greater",
            margin=TREND,
            deviations=dv(UNCLIPPED),
            figure=fig("angle"),
            inputs=sweep_in,
            evidence=ev(_ev_trend(sweep_path, "mean_test_distance")),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.abstract.angle_sets_distance.{d}",
            paper=TG,
            location="abstract (adversarial strength and the deviation angle, linear case)",
            statement=(
                "Adversarial strength reduces to the deviation (tilting) angle from the "
                "nearest-centroid classifier: the more tilted the boundary, the smaller the "
                "adversarial distance (Spearman rho(angle, mean test distance) below "
                f"-{TREND:g} over the sweep)."
            ),
            paper_text="no number for this problem: an analytical result of the linear case",
            metric=(
                f"{where}: Spearman rank correlation over the sweep's lambda values between "
                "the tilting angle and the mean L2 distance of the test images to the boundary"
            ),
            metric_keys=keys("per_lam"),
            control="no trend (rho = 0)",
            unit=lam_unit,
            test="spearman",
            direction="less",
            margin=TREND,
            deviations=dv(UNCLIPPED),
            figure=fig("angle"),
            inputs=sweep_in,
            evidence=ev(_ev_trend(sweep_path, "mean_test_distance", x_name="tilting_angle")),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.abstract.tilted_accuracy_vs_best.{d}",
            paper=TG,
            location="abstract (boundary tilting, independent of classification performance)",
            statement=(
                "Adversarial strength can be made high independently of classification "
                "performance: the most tilted boundary of the sweep classifies the test "
                f"images within {ACC_CLOSE:.0%} (accuracy points) of the best boundary "
                "of the sweep."
            ),
            paper_text="no number: 'independently of the classification performance'",
            metric=(
                f"{where}: per test image, correct (1) or not (0) under the most tilted "
                "boundary minus under the best-accuracy boundary (mean = accuracy difference)"
            ),
            metric_keys=keys(
                "test_accuracy_low_reg",
                "best_test_accuracy",
                "best_lam",
                "tilting_angle_deg_low_reg",
                "per_lam",
            ),
            control="the same test images under the best lambda's boundary (paired)",
            unit=img_unit,
            test="wilcoxon",
            direction="within",
            margin=ACC_CLOSE,
            deviations=dv(TEST_SELECTED),
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_accuracy_vs_best(sweep_path, data_path)),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.abstract.tilted_accuracy_above_chance.{d}",
            paper=TG,
            location="abstract (boundary tilting); the article's introduction",
            statement=(
                "A strongly tilted linear boundary still classifies well: the most tilted "
                f"boundary's test accuracy exceeds {0.5 + WELL_ABOVE_CHANCE:.1f} (chance 0.5 "
                f"+ {WELL_ABOVE_CHANCE:g})."
            ),
            paper_text="no number: 'how can these models perform so well, if they are so "
            "sensitive to small perturbations'",
            metric=f"{where}: test accuracy of the most tilted boundary (largest angle)",
            metric_keys=keys("test_accuracy_low_reg", "tilting_angle_deg_low_reg"),
            control=NO_CONTROL,
            unit=img_unit,
            test="binomial",
            direction="greater",
            margin=WELL_ABOVE_CHANCE,
            deviations=devs,
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_accuracy_tilted(sweep_path, data_path)),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.text.train_separated_low_reg.{d}",
            paper=TA,
            location="text after Fig. 5 (overfitting by boundary tilting)",
            statement=(
                "With weak regularisation the tilting capacity of a linear classifier in a "
                "high-dimensional space with a nearly flat data manifold separates the "
                f"training data perfectly (training accuracy above {PERFECT:g} at the "
                "smallest lambda)."
            ),
            paper_text="no number: 'this capacity can be exploited to separate the training "
            "data perfectly'",
            metric=f"{where}: training accuracy of the SVM at the smallest lambda",
            metric_keys=keys("train_accuracy_low_reg", "lam_low_reg"),
            control=NO_CONTROL,
            unit=f"training images ({DETERMINISTIC})",
            test="binomial",
            direction="greater",
            margin=0.0,
            deviations=devs,
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_train_separated(sweep_path, data_path)),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.text.overfitting_gap_low_reg.{d}",
            paper=TA,
            location="text after Fig. 5 (overfitting by boundary tilting)",
            statement=(
                "The tilted boundary is what happens when a linear classifier overfits: at "
                "the smallest lambda its training accuracy exceeds its test accuracy by more "
                f"than {OVERFIT_GAP:.0%} (accuracy points)."
            ),
            paper_text="no number: 'this is what happens when a linear classifier overfits "
            "its training data'",
            metric=f"{where}: training minus test accuracy at the smallest lambda",
            metric_keys=keys("train_accuracy_low_reg", "test_accuracy_low_reg"),
            control="the test images at the same lambda (independent groups)",
            unit=f"training and test images ({DETERMINISTIC})",
            test="binomial",
            direction="greater",
            margin=OVERFIT_GAP,
            deviations=devs,
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_overfit(sweep_path, data_path)),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.abstract.proper_regularisation.{d}",
            paper=TG,
            location="abstract (the level of regularisation)",
            statement=(
                "The strongest adversarial examples, symptomatic of overfitting, are avoided "
                "by a proper level of regularisation: at the lambda of best test accuracy the "
                "test images' adversarial distances are at least twice those at the smallest "
                "lambda (geometric mean)."
            ),
            paper_text="no number: 'can be avoided by using a proper level of regularisation'",
            metric=(
                f"{where}: per test image, log distance to the boundary at the best-accuracy "
                "lambda minus at the smallest lambda (mean over images)"
            ),
            metric_keys=keys("best_lam", "best_test_accuracy", "mean_test_distance_low_reg"),
            control="the same test images' distances at the smallest lambda (paired)",
            unit=img_unit,
            test="wilcoxon",
            direction="greater",
            margin=FACTOR,
            deviations=dv(UNCLIPPED, TEST_SELECTED),
            figure=fig("angle"),
            inputs=both_in,
            evidence=ev(_ev_distance(sweep_path, data_path, "best")),
            not_testable=why,
        ),
        Claim(
            id=f"tilting.fig6.perturbation_cosine_trend.{d}",
            paper=TA,
            location="Fig. 6 and its text",
            statement=(
                "As regularisation grows the minimal adversarial perturbation turns from "
                "noise-like into the difference of centroids (Spearman rho(log lambda, "
                f"cosine with the centroid difference) above {TREND:g})."
            ),
            paper_text=(
                "no number: 'when regularization is high ... the adversarial perturbation ... "
                "simply consists in a difference of centroids'"
            ),
            metric=(
                f"{where}: Spearman rank correlation over the sweep's lambda values between "
                "log lambda and the cosine of the minimal perturbation with the centroid "
                "difference (= cos of the tilting angle for every image)"
            ),
            metric_keys=keys(
                "perturbation_cosine_low_reg", "perturbation_cosine_high_reg", "per_lam"
            ),
            control="no trend (rho = 0)",
            unit=lam_unit,
            test="spearman",
            direction="greater",
            margin=TREND,
            deviations=devs,
            figure=fig("perturbation"),
            inputs=sweep_in,
            evidence=ev(_ev_trend(sweep_path, "perturbation_cosine")),
            not_testable=why,
            construction=ALONG_W + "a decreasing function of the angle, so this "
            "correlation is exactly minus the angle trend's",
            follows_from=f"tilting.fig6.angle_trend.{d}",
        ),
        Claim(
            id=f"tilting.fig6.perturbation_is_centroid_difference.{d}",
            paper=TA,
            location="Fig. 6 and its text",
            statement=(
                "At high regularisation the minimal adversarial perturbation simply consists "
                f"in a difference of centroids (cosine at least {COSINE:g} at the largest "
                "lambda)."
            ),
            paper_text=(
                "no number: 'the adversarial perturbation is clearly visible and simply "
                "consists in a difference of centroids'"
            ),
            metric=(
                f"{where}: cosine of the minimal L2 perturbation with the centroid difference "
                "at the largest lambda (the same for every test image of a linear classifier)"
            ),
            metric_keys=keys(
                "perturbation_cosine_high_reg", "claim_cosine_to_1", "claim_cosine_threshold"
            ),
            control=NO_CONTROL,
            unit=(
                "one deterministic fit (a single number: no replicate, so no interval; "
                "convex SVM from w = 0, no seed)"
            ),
            test="t",
            direction="greater",
            margin=0.0,
            deviations=devs,
            figure=fig("perturbation"),
            inputs=(),
            evidence=ev(_ev_cosine_high(pre + "perturbation_cosine_high_reg")),
            not_testable=why,
            construction=ALONG_W + f"so this claim is the tilting angle at the largest lambda "
            f"(below {math.degrees(math.acos(COSINE)):.1f} degrees) restated, a point of the "
            "angle trend's sweep",
            follows_from=f"tilting.fig6.angle_trend.{d}",
        ),
        Claim(
            id=f"tilting.fig5.train_points_hug_boundary.{d}",
            paper=TA,
            location="Fig. 5 (with Fig. 7)",
            statement=(
                "In the tilting plane the weakly regularised SVM boundary lies close to the "
                "training data: the training points' distances to it are at most half "
                "those to the strongly regularised boundary (geometric mean)."
            ),
            paper_text="no number: 'the classification boundary lies close to the data manifold'",
            metric=(
                f"{where}: per projected training point, log distance to the boundary in the "
                "tilting plane (= in input space, w lies in the plane) at the smallest lambda "
                "minus at the largest (mean over points)"
            ),
            metric_keys=keys("tilting_angle_deg_low_reg", "tilting_angle_deg_high_reg"),
            control="the same training points' distances at the largest lambda (paired)",
            unit=f"training points ({DETERMINISTIC})",
            test="wilcoxon",
            direction="less",
            margin=FACTOR,
            deviations=dv(
                Deviation(
                    f"Fig. 5 points: a seeded subset of at most {max_proj} training images",
                    "tilting.max_projected bounds the store and the figure",
                ),
                Deviation(
                    "Fig. 5 compares the smallest with the largest lambda of the sweep",
                    "the article shows one SVM's plane; the strongly regularised one is the "
                    "control",
                ),
            ),
            figure=fig("plane"),
            inputs=sweep_in,
            evidence=ev(_ev_hug(sweep_path)),
            not_testable=why,
        ),
    ] + boot_claims


def _toy_claims(cfg: Mapping) -> list[Claim]:
    toy = cfg["tilting"].get("toy", {})
    n_dims = toy.get("n_dims", 785)
    n_test = 2 * int(toy.get("n_per_class", 50))
    lam_low, lam_high = toy.get("lam_low", 1e-4), toy.get("lam_high", 10.0)
    devs = [
        Deviation(
            "toy geometry chosen here: two parallel bars (gap "
            f"{toy.get('gap', 1.0):g}, length {toy.get('bar_length', 4.0):g}, thickness "
            f"{toy.get('class_std', 0.15):g}) with flat noise (std "
            f"{toy.get('noise_std', 0.05):g}) in the extra dimensions",
            "the article gives no numbers for its Fig. 3/4 toy",
        ),
        Deviation(
            f"the tilt comes from weak regularisation (SVM at lambda {lam_low:g} vs "
            f"{lam_high:g}), not a hand-drawn weight vector",
            "makes the toy test the article's mechanism (overfitting by tilting along flat "
            "directions) rather than a construction",
        ),
        Deviation(
            "one seeded draw of the toy (config seed): a single fit per space and lambda",
            "the toy has no seed list; a single number has no interval",
        ),
    ]
    if n_dims != 785:
        devs.append(
            Deviation(f"dimension: {n_dims} instead of 785", "tilting.toy.n_dims (sized for speed)")
        )
    devs = tuple(devs)
    unit = "one seeded toy draw (a single number: no replicate; deterministic SVM fit)"
    p = "tilting/toy-"
    return [
        Claim(
            id="tilting.fig3.toy_weak_reg_tilts_in_highdim",
            paper=TA,
            location="the text after Fig. 5 (overfitting by tilting), on the Fig. 3/4 toy",
            statement=(
                "The article's mechanism, not its Fig. 3 claim (which is about the weight "
                "vector, not the dimension): weak regularisation tilts the boundary along "
                "flat directions of the data, so the same bars give a weakly regularised "
                f"SVM a tilting angle at least {TOY_TILT_DEG:g} degrees larger in {n_dims}-D "
                "(flat noise directions) than in 2-D (none to tilt along)."
            ),
            paper_text="no number: 'When the input space is high dimensional but the data "
            "manifold is nearly flat in most directions ... this capacity can be exploited to "
            "separate the training data perfectly'",
            metric=(f"tilting angle of the SVM at lambda {lam_low:g} in {n_dims}-D minus in 2-D"),
            metric_keys=(
                p + "highdim-low_reg/tilting_angle_deg",
                p + "2d-low_reg/tilting_angle_deg",
                p + "highdim-low_reg/w_noise_norm",
                p + "highdim-low_reg/converged",
                p + "2d-low_reg/converged",
                p + "highdim/n_features",
            ),
            control="the 2-D fit of the same bars at the same lambda",
            unit=unit,
            test="t",
            direction="greater",
            margin=TOY_TILT_DEG,
            deviations=devs,
            figure="tilting_toy",
            inputs=(),
            evidence=_ev_toy_pair(
                p + "highdim-low_reg/tilting_angle_deg",
                p + "2d-low_reg/tilting_angle_deg",
                "one toy draw, one fit per space: the angles as single numbers",
            ),
        ),
        Claim(
            id="tilting.fig3.toy_strong_reg_bisects",
            paper=TA,
            location="Fig. 3/4 (right)",
            statement=(
                "With strong regularisation the high-dimensional boundary bisects the two "
                "classes along the centroid difference (tilting angle within "
                f"{TOY_UNTILT_DEG:g} degree of 0)."
            ),
            paper_text="no number: 'the classification boundary bisects the classes I and J "
            "perfectly'",
            metric=f"tilting angle of the SVM at lambda {lam_high:g} in {n_dims}-D",
            metric_keys=(
                p + "highdim-high_reg/tilting_angle_deg",
                p + "2d-high_reg/tilting_angle_deg",
                p + "highdim-high_reg/converged",
            ),
            control=NO_CONTROL,
            unit=unit,
            test="t",
            direction="within",
            margin=TOY_UNTILT_DEG,
            deviations=devs,
            figure="tilting_toy",
            inputs=(),
            evidence=_ev_toy_pair(
                p + "highdim-high_reg/tilting_angle_deg",
                None,
                "one toy draw, one fit: the angle as a single number",
            ),
        ),
        Claim(
            id="tilting.fig3.toy_tilt_keeps_accuracy",
            paper=TG,
            location="abstract (boundary tilting); the article's Fig. 3/4",
            statement=(
                "Tilting leaves classification performance intact: in high dimension the "
                "weakly regularised (tilted) boundary's test accuracy is within "
                f"{ACC_CLOSE:.0%} of the strongly regularised (untilted) one's."
            ),
            paper_text="no number: 'independently of the classification performance'",
            metric=(f"toy test accuracy in {n_dims}-D at lambda {lam_low:g} minus at {lam_high:g}"),
            metric_keys=(
                p + "highdim-low_reg/test_accuracy",
                p + "highdim-high_reg/test_accuracy",
            ),
            control=f"the untilted fit (lambda {lam_high:g}) on the same test draw",
            unit=f"toy test points ({n_test}, one seeded draw; deterministic fits)",
            test="binomial",
            direction="within",
            margin=ACC_CLOSE,
            deviations=devs,
            figure="tilting_toy",
            inputs=(),
            evidence=_ev_toy_accuracy(
                p + "highdim-low_reg/test_accuracy", p + "highdim-high_reg/test_accuracy", n_test
            ),
        ),
    ]


SAME_DISTANCE = math.log(1.1)  # "dimensionality is essentially irrelevant": within 10%


def _ev_fig3(space: str, kind: str, ref_space: str, ref_kind: str, note: str):
    """Per test point: log of its distance to one Fig. 3 boundary over its distance to
    another (the same test draw), against 0."""

    def ev(ctx):
        import numpy as np

        st = ctx.store(registry.FIG3)
        a = st.distance.sel(space=space, boundary=kind).values
        b = st.distance.sel(space=ref_space, boundary=ref_kind).values
        acc = float(st.correct.sel(space=space, boundary=kind).mean())
        ok = (a > 0) & (b > 0)
        return Evidence(
            ours=np.log(a[ok] / b[ok]),
            control=0.0,
            note=f"{int(ok.sum())} test points (a second seeded draw); {note}; test accuracy "
            f"of the {space} {kind} boundary {acc:.3f}",
        )

    return ev


def _fig3_claims(cfg: Mapping) -> list[Claim]:
    t = cfg["tilting"]
    toy, f3 = t.get("toy", {}), t.get("fig3", {})
    n_dims = toy.get("n_dims", 785)
    n_test = 2 * int(toy.get("n_per_class", 50))
    devs = (
        Deviation(
            "toy geometry chosen here: two thin segments end to end along the class direction "
            f"(gap {toy.get('gap', 1.0):g}, length {toy.get('bar_length', 4.0):g}, thickness "
            f"{f3.get('thickness', 0.01):g}), flat noise (std {toy.get('noise_std', 0.05):g}) in "
            "the extra dimensions; the tilted boundary at "
            f"{f3.get('tilt_fraction', 0.95):g} of the largest angle that still separates the "
            "training points",
            "the article draws its Fig. 3/4 without numbers; a manifold flat across the class "
            "direction lets a boundary tilt in 2-D already",
        ),
        *(
            ()
            if n_dims == 785
            else (Deviation(f"dimension: {n_dims} instead of 785", "tilting.toy.n_dims"),)
        ),
    )
    unit = f"test points ({n_test}, one seeded draw; hand-made boundaries, no fit)"
    p = "tilting/fig3/"
    return [
        Claim(
            id="tilting.fig3.high_dimension_not_necessary",
            paper=TA,
            location="Fig. 3/4 (left)",
            statement=(
                "High dimensionality is not necessary for adversarial examples: in 2-D a "
                "tilted boundary that still separates the classes lies close to the data, "
                "its distance to the test points at least "
                f"{math.exp(FACTOR):g} times smaller than the untilted boundary's (mean log "
                "ratio per point)."
            ),
            paper_text="no number: 'the weight vector defines a tilted classification boundary "
            "that separates classes but lies close to the manifold of normal data'",
            metric="per test point: log(distance to the tilted 2-D boundary / distance to the "
            "untilted 2-D boundary)",
            metric_keys=(
                p + "2d-tilted/median_test_distance",
                p + "2d-untilted/median_test_distance",
                p + "2d-tilted/test_accuracy",
                p + "tilt_deg",
            ),
            control="the untilted 2-D boundary (the centroid difference), same test points",
            unit=unit,
            test="wilcoxon",
            direction="less",
            margin=FACTOR,
            deviations=devs,
            figure="tilting_fig3",
            inputs=(registry.FIG3,),
            evidence=_ev_fig3("2d", "tilted", "2d", "untilted", "paired per point"),
        ),
        Claim(
            id="tilting.fig3.high_dimension_not_sufficient",
            paper=TA,
            location="Fig. 3/4 (right)",
            statement=(
                f"High dimensionality is not sufficient: in {n_dims}-D the untilted boundary "
                "bisects the same classes as far from the test points as in 2-D (per-point "
                f"distances within a factor {math.exp(SAME_DISTANCE):g}). Nearly by "
                "construction: w has no component in the extra dimensions beyond the sample "
                "centroids' noise; this checks the geometry the article's argument rests on."
            ),
            paper_text="no number: 'In the high-dimensional example on the right, the "
            "classification boundary bisects the classes I and J perfectly'",
            metric=f"per test point: log(distance to the untilted {n_dims}-D boundary / "
            "distance to the untilted 2-D boundary)",
            metric_keys=(
                p + "highdim-untilted/median_test_distance",
                p + "2d-untilted/median_test_distance",
                p + "highdim-untilted/test_accuracy",
            ),
            control="the untilted 2-D boundary, same test points",
            unit=unit,
            test="wilcoxon",
            direction="within",
            margin=SAME_DISTANCE,
            deviations=devs,
            figure="tilting_fig3",
            inputs=(registry.FIG3,),
            evidence=_ev_fig3("highdim", "untilted", "2d", "untilted", "paired per point"),
        ),
    ]


def claims(cfg: Mapping) -> list[Claim]:
    """Every claim of the boundary-tilting texts this config is judged on (per sweep
    dataset, MNIST 2 vs 3 included as not testable where it is not swept, then the toy)."""
    out: list[Claim] = []
    for d in _datasets(cfg):
        out += _dataset_claims(cfg, d)
    out += _toy_claims(cfg)
    out += _fig3_claims(cfg)
    return out
