"""Squiggles figures on tiny real stores (SquiggleCNN trained one epoch, a few test
curves, 2-3 eps, 2 attack steps) built with the experiment functions, plus synthetic
stores where exact values are asserted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from matplotlib.figure import Figure

from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.studies.squiggles import generators as sq
from pipeline_lib.studies.squiggles import plots as sp

RES = 24
CFG = {"arch": "cnn", "width": 4, "blocks": 2}


def _tensors(ds):
    return torch.as_tensor(ds["image"].values), torch.as_tensor(ds["label"].values).long()


def build_stores(
    *,
    n_train: int = 32,
    n_test: int = 12,
    resolution: int = RES,
    epochs: int = 1,
    sigmas=(0.0, 0.08),
    seeds=(0,),
    latent_eps=(0.0375, 0.3, 1.2),
    distance_eps=(0.0375, 0.3, 1.2),
    pixel_eps=(0.15, 0.6, 2.4),
    focus_eps: float = 0.6,
    steps: int = 2,
    step_ratio: float = 2.0,
    noise_draws: int = 2,
    n_decomp: int = 2,
    variant: str = "taylor",
    batch_size: int = 16,
    lr: float = 3e-3,
    cfg: dict | None = None,
) -> dict:
    """Stores in the formats of the workflow's scripts (attrs and sample coords included);
    ``variant`` is the analysis variant, the other variant's sigma-0 model navigates."""
    variants = list(sq.VARIANTS)
    data = {v: sq.make_dataset(v, n_test, 0, "test", resolution) for v in variants}
    train = {v: sq.make_dataset(v, n_train, 0, "train", resolution) for v in variants}
    tests = {v: _tensors(data[v]) for v in variants}
    trainings: dict = {}
    models: dict = {}
    for v in variants:
        for s in sigmas if v == variant else (0.0,):
            for seed in seeds:
                torch.manual_seed(seed)
                model = se.build_classifier(cfg or CFG, resolution)[0]
                own = tests[v]

                def evaluate(m, own=own):
                    p = se.predict_proba(m, own[0])
                    return {"test_accuracy": float(((p > 0.5) == own[1].numpy()).mean())}

                x, y = _tensors(train[v])
                hist = se.train_classifier(
                    model, x, y, epochs=epochs, lr=lr, batch_size=batch_size,
                    noise_sigma=s, seed=seed, evaluate=evaluate, log=lambda _: None,
                )  # fmt: skip
                gen = se.generalization(model, tests)
                hist = hist.assign(
                    accuracy=("test_variant", [gen[t]["accuracy"] for t in variants]),
                    roc_auc=("test_variant", [gen[t]["roc_auc"] for t in variants]),
                    test_proba=(
                        ("test_variant", "sample"),
                        np.stack([gen[t]["proba"] for t in variants]),
                    ),
                ).assign_coords(test_variant=variants, sample=np.arange(n_test))
                hist.attrs.update({"variant": v, "sigma": float(s), "seed": seed})
                trainings.setdefault((v, float(s)), []).append(hist)
                models[(v, float(s), seed)] = model
    d = data[variant]
    z, (x, y) = torch.as_tensor(d["latent"].values), tests[variant]
    other = next(v for v in variants if v != variant)
    latents, distances, decs = [], [], []
    pixels: dict = {float(s): [] for s in sigmas}
    for seed in seeds:
        m0 = models[(variant, 0.0, seed)]
        kw = dict(steps=steps, step_ratio=step_ratio, resolution=resolution)
        lat = se.latent_attack(m0, variant, z, y, latent_eps, **kw)
        lat = lat.assign_coords(sample=d["sample"].values)
        lat.attrs.update({"variant": variant, "sigma": 0.0, "seed": seed})
        latents.append(lat)
        # steered by the other variant's sigma-0 model; a second search steered by a
        # different model (here the analysed variant's noise-trained one, the only other
        # model this fixture trains) stands for the second steering model
        steer2 = models[(variant, float(sigmas[-1]), seed)]
        for g, nav in ((0.0, models[(other, 0.0, seed)]), (float(sigmas[-1]), steer2)):
            dist = se.distance_store(
                m0, nav, variant, d, distance_eps, n_attack=n_test, n_misclassified=None,
                n_correct=None, sample_seed=0, steps=steps, step_ratio=step_ratio,
            )  # fmt: skip
            dist.attrs.update({"variant": variant, "seed": seed, "steer_sigma": g})
            distances.append(dist)
        deltas = {}
        best = int(np.argmin(se.latent_curves(lat)["accuracy"]))
        with torch.no_grad():
            za = torch.as_tensor(lat["latent_adv"].values[:n_decomp, best])
            deltas["latent"] = sq.decode(variant, za, resolution) - x[:n_decomp]
        dmodels = {"latent": m0}
        for s in sigmas:
            px = se.pixel_attack(
                models[(variant, float(s), seed)], x, y, pixel_eps, steps=steps,
                step_ratio=step_ratio, focus_eps=focus_eps, noise_draws=noise_draws, seed=seed,
            )  # fmt: skip
            px = px.assign_coords(sample=d["sample"].values)
            px.attrs.update({"variant": variant, "sigma": float(s), "seed": seed})
            pixels[float(s)].append(px)
            name = f"pixel_sigma{s:g}"
            deltas[name] = torch.as_tensor(px["x_adv_focus"].values[:n_decomp]) - x[:n_decomp]
            dmodels[name] = models[(variant, float(s), seed)]
        dec = se.decompose(
            dmodels, variant, z[:n_decomp], x[:n_decomp], deltas, resolution=resolution,
            rtol=1e-6, seed=seed, labels=y[:n_decomp],
        )  # fmt: skip
        dec = dec.assign_coords(sample=d["sample"].values[:n_decomp])
        dec.attrs.update({"variant": variant, "seed": seed})
        decs.append(dec)
    return {
        "data": data,
        "variant": variant,
        "trainings": trainings,
        "latents": latents,
        "distances": distances,
        "pixels": pixels,
        "decs": decs,
    }


@pytest.fixture(scope="module")
def stores():
    return build_stores()


def _images(fig) -> list:
    return [im for ax in fig.axes for im in ax.get_images()]


def _lines(ax, gid):
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid]


# ----------------------------------------------------------------------------- helpers


def test_wilson_interval_known_values():
    lo, hi = sp.wilson(np.array([0, 5, 10]), 10)
    assert lo[0] == 0 and 0 < hi[0] < 0.35  # 0 of 10: [0, 0.278]
    np.testing.assert_allclose([lo[1], hi[1]], [0.2366, 0.7634], atol=1e-4)
    assert hi[2] == pytest.approx(1.0) and 0.65 < lo[2] < 0.75
    assert np.isnan(sp.wilson(0, 0)[0])


# ----------------------------------------------------------------------------- Fig. 1


def test_examples_figure_marks_intersections(stores):
    data = stores["data"]["taylor"]
    n = 4
    fig = sp.examples_figure(data, n=n, seed=3)
    assert isinstance(fig, Figure)
    lab = data["label"].values
    n1, n0 = min(n, int((lab == 1).sum())), min(n, int((lab == 0).sum()))
    assert n1 >= 1 and n0 >= 1  # the fixed test seed gives both classes
    assert len(_images(fig)) == n1 + n0
    sub_a, sub_b = fig.subfigs
    marks = [ln for ax in sub_a.axes for ln in _lines(ax, "intersection")]
    assert len(marks) == n1 and not [ln for ax in sub_b.axes for ln in _lines(ax, "intersection")]
    # the marks are the intersection points of the shown curves, transposed to (col, row)
    rng = np.random.default_rng(3)
    pick = np.sort(rng.choice(np.flatnonzero(lab == 1), n1, replace=False))
    ip = sq.intersection_points(data["points"].values[pick])
    got = np.array([[ln.get_xdata()[0], ln.get_ydata()[0]] for ln in marks])
    np.testing.assert_allclose(got, ip[:, ::-1] * (RES - 1), atol=1e-9)
    assert "Table 4" in fig._suptitle.get_text()
    assert f"{(lab == 1).mean():.1%}" in fig._suptitle.get_text()
    # the mark sits on the curve: the image is bright at the marked pixel
    img = data["image"].values[pick[0], 0]
    r, c = np.round(ip[0] * (RES - 1)).astype(int)
    assert img[r, c] > 0.3
    with pytest.raises(ValueError, match="no samples"):
        sp.examples_figure(data.isel(sample=slice(0, 0)))


# ----------------------------------------------------------------------------- Table 6


def test_generalization_figure(stores):
    tr = stores["trainings"]
    fig = sp.generalization_figure(tr)
    heat, acc_ax, loss_ax = fig.axes[0], fig.axes[2], fig.axes[3]
    texts = [t.get_text() for t in heat.texts]
    assert len(texts) == len(tr) * 2  # every model on both test sets
    one = tr[("taylor", 0.0)][0]
    a = float(one["accuracy"].sel(test_variant="sinenet"))
    u = float(one["roc_auc"].sel(test_variant="sinenet"))
    assert any(f"acc {100 * a:.1f}%" in t and f"AUC {u:.4f}" in t for t in texts)
    assert sum("(within)" in t for t in texts) == len(tr)
    # one accuracy curve and one loss curve per (variant, sigma)
    labeled = [ln for ln in acc_ax.get_lines() if not ln.get_label().startswith("_")]
    assert len(labeled) == len(tr)
    ln = next(ln for ln in labeled if ln.get_label() == "taylor, σ = 0")
    np.testing.assert_allclose(ln.get_ydata(), one["test_accuracy"].values)
    assert len([ln for ln in loss_ax.get_lines() if ln.get_marker() == "o"]) == len(tr)
    with pytest.raises(ValueError, match="no training stores"):
        sp.generalization_figure({})
    # two seeds: mean ± sd in the cell text
    two = dict(tr)
    b = one.copy(deep=True)
    b["accuracy"] = b["accuracy"] * 0 + 0.5
    two[("taylor", 0.0)] = [one, b]
    fig = sp.generalization_figure(two)
    assert any("±" in t.get_text() for t in fig.axes[0].texts)


# ----------------------------------------------------------------------------- Fig. 9


def test_latent_figure_matches_latent_curves(stores):
    lat = stores["latents"]
    fig = sp.latent_figure(lat)
    assert len(fig.axes) == 3
    curves = se.latent_curves(lat[0])
    eps = lat[0]["eps"].values
    lines = {ln.get_label(): ln for ax in fig.axes for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["accuracy"].get_ydata(), curves["accuracy"])
    np.testing.assert_allclose(lines["true label unchanged"].get_ydata(), curves["unchanged"])
    adv = next(v for k, v in lines.items() if k.startswith("adversarial errors"))
    np.testing.assert_allclose(adv.get_ydata(), curves["adversarial_error"])
    (star,) = _lines(fig.axes[0], "lowest")
    k = int(np.argmin(curves["accuracy"]))
    assert star.get_xdata()[0] == eps[k] and star.get_ydata()[0] == curves["accuracy"][k]
    assert sp.lowest_accuracy_eps(lat) == eps[k]
    assert fig.axes[0].get_xscale() == "log"
    # two seeds (the same store twice, different seed attr): per-seed dots appear
    b = lat[0].copy()
    b.attrs["seed"] = 1
    fig2 = sp.latent_figure([lat[0], b])
    assert len(fig2.axes[0].get_lines()) > len(fig.axes[0].get_lines())
    with pytest.raises(ValueError, match="no latent stores"):
        sp.latent_figure([])


# ----------------------------------------------------------------------------- Fig. 8


def test_distance_figure_cdf_values(stores):
    dist, lat, px = stores["distances"], stores["latents"], stores["pixels"]
    fig = sp.distance_figure(dist, lat, px)
    assert len(fig.axes) == 4
    d = dist[0]["distance"].values
    grid = dist[0]["eps"].values
    for ax in fig.axes[:3]:
        (all_line,) = _lines(ax, "all")
        y = all_line.get_ydata()
        assert y[-1] == pytest.approx(np.isfinite(d).mean())  # ends at the finite fraction
        np.testing.assert_allclose(y[:-1], se.cdf(d, grid))
        assert all_line.get_label().startswith(f"attacked curves (n = {d.size};")
        assert ax.get_xscale() == "log"
    # panel (b): misclassified = the sigma-0 model's clean errors, adversarial = PGD wins
    p0 = px[0.0][0]
    ok = ((p0["clean_proba"].values > 0.5).astype(int)) == p0["label"].values
    np.testing.assert_array_equal(dist[0]["model_pred"].values == dist[0]["label"].values, ok)
    fe = int(np.argmin(np.abs(p0["eps"].values - p0.attrs["focus_eps"])))
    adv = ok & p0["pgd_success"].values[:, fe]
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any(t.startswith(f"misclassified (clean) (n = {int((~ok).sum())}") for t in labels)
    assert any(t.startswith(f"correct (random sample) (n = {int(ok.sum())}") for t in labels)
    assert any(t.startswith(f"adversarial errors (n = {int(adv.sum())}") for t in labels)
    # matches the experiment library's grouping (the summary metrics)
    groups = se.error_groups(dist[0], lat[0], {"0.0": p0})
    assert groups["adversarial_pixel_sigma0.0"].size == int(adv.sum())
    # panel (d): each steering model's misclassified and correct curves, with agreement
    texts = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    for st in dist:
        g = st.attrs["steer_sigma"]
        agree = (st["steer_pred"].values == st["model_pred"].values)[ok]
        if ok.any():
            assert (
                f"steered by σ = {g:g}: correct (n = {int(ok.sum())}; agrees {agree.mean():.0%})"
                in texts
            )
    # an explicit latent eps shows in the title of panel (a)
    e = float(lat[0]["eps"].values[0])
    fig = sp.distance_figure(dist, lat, px, latent_eps=e)
    assert f"ε = {e:g}" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="no distance stores"):
        sp.distance_figure([], lat, px)
    with pytest.raises(ValueError, match="not in the store's grid"):
        sp.distance_figure(dist, lat, px, latent_eps=123.0)


def test_distance_figure_synthetic_pooling():
    """Two seeds pooled: the CDF is over the union of samples, matched per seed."""
    grid = np.array([0.1, 1.0, 10.0])

    def dstore(seed, dist, lab, pred):
        return xr.Dataset(
            {
                "distance": ("sample", dist),
                "label": ("sample", lab),
                "in_attack_set": ("sample", np.ones(len(dist), bool)),
                "model_pred": ("sample", pred),
                "steer_pred": ("sample", pred),
            },
            coords={"eps": grid, "sample": np.arange(len(dist))},
            attrs={"seed": seed},
        )

    def pstore(seed, proba, lab, success):
        return xr.Dataset(
            {
                "label": ("sample", lab),
                "clean_proba": ("sample", proba),
                "pgd_success": (("sample", "eps"), np.repeat(success[:, None], 2, 1)),
            },
            coords={"eps": [0.15, 0.3], "sample": np.arange(len(lab))},
            attrs={"seed": seed, "focus_eps": 0.15},
        )

    lab = np.array([1, 0, 1, 0])
    # seed 1's model misclassifies sample 0 only; seed 0's none; pixel stores in reverse
    d0 = dstore(0, np.array([0.1, 1.0, np.inf, 10.0]), lab, lab)
    d1 = dstore(1, np.array([0.1, 0.1, 0.1, np.inf]), lab, np.array([0, 0, 1, 0]))
    p = [
        pstore(1, np.array([0.2, 0.1, 0.9, 0.1]), lab, np.array([0, 1, 0, 0], bool)),
        pstore(0, np.array([0.9, 0.1, 0.9, 0.1]), lab, np.array([0, 0, 1, 1], bool)),
    ]
    fig = sp.distance_figure([d0, d1], [], {0.0: p, 0.08: p})
    ax = fig.axes[1]
    np.testing.assert_allclose(_lines(ax, "all")[0].get_ydata()[:-1], [4 / 8, 5 / 8, 6 / 8])
    # misclassified: seed 1 sample 0 (d 0.1); adversarial: seed 0 samples 2, 3 (inf, 10)
    # and seed 1 sample 1 (0.1)
    np.testing.assert_allclose(_lines(ax, "mis")[0].get_ydata()[:-1], [1, 1, 1])
    np.testing.assert_allclose(_lines(ax, "adv")[0].get_ydata()[:-1], [1 / 3, 1 / 3, 2 / 3])
    assert "no stores" in fig.axes[0].texts[0].get_text()  # no latent stores given


# ----------------------------------------------------------------------------- Fig. 10


def test_pixel_figure(stores):
    px = stores["pixels"]
    fig = sp.pixel_figure(px)
    (ax,) = fig.axes
    for s, runs in px.items():
        c = se.pixel_curves(runs[0])
        (pgd,) = _lines(ax, f"pgd sigma={s:g}")
        (noise,) = _lines(ax, f"noise sigma={s:g}")
        np.testing.assert_allclose(pgd.get_ydata(), c["pgd_accuracy"])
        np.testing.assert_allclose(noise.get_ydata(), c["noise_accuracy"])
        assert noise.get_linestyle() == "--" and pgd.get_linestyle() == "-"
    (focus,) = _lines(ax, "focus")
    assert focus.get_xdata()[0] == px[0.0][0].attrs["focus_eps"]
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="no pixel stores"):
        sp.pixel_figure({})


# ----------------------------------------------------------------------------- Fig. 11


def test_decomposition_figure(stores):
    dec, data = stores["decs"][0], stores["data"]["taylor"]
    n_att = dec.sizes["attack"]
    fig = sp.decomposition_figure(dec, data, n_rows=2)
    top, bottom = fig.subfigs
    assert len(top.axes) == 2 * (1 + 3 * n_att)
    imgs = [im for ax in top.axes for im in ax.get_images()]
    # per (row, attack): delta, on, off share one symmetric colour scale; off = delta - on
    first_attack = imgs[1:4]
    lims = {im.get_clim() for im in first_attack}
    assert len(lims) == 1 and lims.pop()[0] < 0
    d, on, off = (np.asarray(im.get_array()) for im in first_attack)
    np.testing.assert_allclose(off, d - on, atol=1e-6)
    assert all(im.get_cmap().name == "RdBu_r" for im in first_attack)
    (share_ax,) = bottom.axes
    assert share_ax.get_yscale() == "log"
    # one dot series per attack with any share (NaN: zero attack vector, e.g. a sample
    # the model already got wrong, which greedy PGD leaves alone)
    dots = _lines(share_ax, "on_share")
    shares = [dec["on_share"].sel(attack=a).values for a in dec["attack"].values]
    shares = [np.sort(v[np.isfinite(v) & (v > 0)]) for v in shares]
    shares = [v for v in shares if v.size]
    assert len(dots) == len(shares) >= 1
    for ln, v in zip(dots, shares, strict=True):
        np.testing.assert_allclose(np.sort(ln.get_ydata()), v)
    med = float(np.median(dec["tangent_rank"].values))
    assert f"median {med:g}" in share_ax.get_title()
    with pytest.raises(ValueError, match="empty"):
        sp.decomposition_figure(dec.isel(sample=slice(0, 0)), data)


def test_decomposition_rows_prefer_fooled_samples(stores):
    dec, data = stores["decs"][0].copy(deep=True), stores["data"]["taylor"]
    lab = dec["label"].values
    # make only the last sample fooled by the sigma-0 pixel attack
    pf = dec["pred_full"].values
    k = list(dec["attack"].values).index("pixel_sigma0")
    pf[:, k] = lab
    pf[-1, k] = 1 - lab[-1]
    dec["pred_clean"].values[:, k] = lab
    fig = sp.decomposition_figure(dec, data, n_rows=1)
    title = fig.subfigs[0].axes[0].get_title()
    assert f"sample {int(dec['sample'].values[-1])}" in title and "fooled" in title


# ----------------------------------------------------------------------------- Fig. 7


def test_errors_figure(stores):
    data = stores["data"]["taylor"]
    tr = stores["trainings"][("taylor", 0.0)][0]
    lat = stores["latents"][0]
    px = {s: v[0] for s, v in stores["pixels"].items()}
    e = sp.lowest_accuracy_eps([lat])
    n = 4
    fig = sp.errors_figure(data, tr, lat, px, e, n=n)
    assert len(fig.subfigs) == 4
    lab = data["label"].values
    err = (tr["test_proba"].sel(test_variant="taylor").values > 0.5).astype(int) != lab
    sub_a = fig.subfigs[0]
    n_shown = min(n, int(err.sum()))
    assert sum(len(ax.get_images()) for ax in sub_a.axes) == n_shown
    # marks only on self-intersecting errors, shown first
    n1 = min(n, int((err & (lab == 1)).sum()))
    assert sum(len(_lines(ax, "intersection")) for ax in sub_a.axes) == n1
    # (c): pixel errors of the sigma-0 model at the focus eps
    p0 = px[0.0]
    fe = int(np.argmin(np.abs(p0["eps"].values - p0.attrs["focus_eps"])))
    ok = (p0["clean_proba"].values > 0.5).astype(int) == p0["label"].values
    n_c = min(n, int((ok & p0["pgd_success"].values[:, fe]).sum()))
    imgs = [im for ax in fig.subfigs[2].axes for im in ax.get_images()]
    assert len(imgs) == n_c
    if n_c == 0:
        assert any("none" in t.get_text() for ax in fig.subfigs[2].axes for t in ax.texts)
    # panels without stores say so
    fig = sp.errors_figure(data, tr, None, {0.0: px[0.0]}, e, n=n)
    texts = [t.get_text() for sf in fig.subfigs[1::2] for ax in sf.axes for t in ax.texts]
    assert "no latent store" in texts and "no noise-trained (σ > 0) store" in texts
    with pytest.raises(ValueError, match="no samples"):
        sp.errors_figure(data.isel(sample=slice(0, 0)), tr, lat, px, e)


def test_errors_figure_latent_panel_rerenders(stores):
    """A synthetic latent store whose every sample is a label-unchanged error: panel (b)
    shows decode(latent_adv) and marks the attacked curve's intersection."""
    data = stores["data"]["taylor"]
    tr = stores["trainings"][("taylor", 0.0)][0]
    lab = data["label"].values.astype(np.int8)
    z = data["latent"].values
    za = np.clip(z + 0.01, -1, 1).astype(np.float32)[:, None]
    lab_adv = sq.labels(sq.curve_points("taylor", torch.as_tensor(za[:, 0])).numpy())
    keep = lab_adv == lab
    lat = xr.Dataset(
        {
            "label": ("sample", lab),
            "clean_proba": ("sample", lab.astype(float)),  # all correct
            "pred_adv": (("sample", "eps"), (1 - lab)[:, None]),  # all wrong
            "label_adv": (("sample", "eps"), lab_adv[:, None]),
            "latent_adv": (("sample", "eps", "latent_dim"), za),
        },
        coords={"eps": [0.075], "sample": data["sample"].values},
    )
    n = 30
    fig = sp.errors_figure(data, tr, lat, {}, 0.075, n=n)
    sub_b = fig.subfigs[1]
    imgs = [im for ax in sub_b.axes for im in ax.get_images()]
    assert len(imgs) == int(keep.sum())
    order = np.concatenate([np.flatnonzero(keep & (lab == 1)), np.flatnonzero(keep & (lab == 0))])
    shown = np.stack([np.asarray(im.get_array()) for im in imgs])
    expect = sq.decode("taylor", torch.as_tensor(za[order, 0]), RES).numpy()[:, 0]
    # each shown image is one re-rendered attacked curve, each curve shown once
    diff = np.abs(shown[:, None] - expect[None]).max(axis=(2, 3))
    match = diff.argmin(axis=1)
    assert (diff.min(axis=1) < 1e-6).all() and len(set(match.tolist())) == len(imgs)
    # ... and differs from the clean image (it was re-rendered, not copied)
    assert np.abs(expect - data["image"].values[order, 0]).max() > 1e-3
    marks = [ln for ax in sub_b.axes for ln in _lines(ax, "intersection")]
    assert len(marks) == int((keep & (lab == 1)).sum())


# ----------------------------------------------------------------------------- tables


def _hand_decomposition() -> tuple[xr.Dataset, xr.Dataset]:
    """3 samples x 2 attacks of 1x2x2 vectors with known components; the sigma-0 pixel
    attack fools samples 11 (correct on x) and 12 (already wrong on x: not a success)."""
    delta = np.zeros((3, 2, 1, 2, 2))
    delta[:, :, 0, 0, 0] = [[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]]
    delta[:, :, 0, 1, 1] = [[4.0, 0.0], [0.0, -2.0], [1.0, 0.0]]
    on = np.zeros_like(delta)
    on[:, :, 0, 0, 0] = delta[:, :, 0, 0, 0]  # the on-manifold part: pixel (0, 0)
    sq_d, sq_on = (delta**2).sum(axis=(2, 3, 4)), (on**2).sum(axis=(2, 3, 4))
    with np.errstate(invalid="ignore"):
        share = sq_on / sq_d  # NaN for the zero vector
    label = np.array([0, 1, 1], np.int8)
    pred_full = np.array([[0, 0], [1, 0], [1, 0]], np.int8)
    pred_clean = np.array([[0, 0], [1, 1], [1, 0]], np.int8)
    dims = ("sample", "attack")
    dec = xr.Dataset(
        {
            "delta": (("sample", "attack", "channel", "row", "col"), delta),
            "delta_on": (("sample", "attack", "channel", "row", "col"), on),
            "on_share": (dims, share),
            "random_share": (dims, np.full((3, 2), 0.25)),
            "pred_clean": (dims, pred_clean),
            "pred_full": (dims, pred_full),
            "pred_on": (dims, pred_full),
            "pred_off": (dims, pred_clean),
            "label": ("sample", label),
            "tangent_rank": ("sample", np.array([1, 2, 2])),
        },
        coords={"sample": [10, 11, 12], "attack": ["latent", "pixel_sigma0"]},
        attrs={"n_features": 4, "rtol": 1e-6},
    )
    data = xr.Dataset(
        {"label": ("sample", np.array([1, 0, 0, 1]))}, coords={"sample": [9, 10, 11, 12]}
    )
    return dec, data


def test_decomposition_table_hand_values():
    dec, data = _hand_decomposition()
    t = sp.decomposition_table(dec, data)
    assert len(t) == 3 * 2 and t.groupby("attack").size().eq(3).all()
    assert t.attrs["ref"] == "pixel_sigma0" and t.attrs["n_features"] == 4
    assert t.attrs["tangent_rank_median"] == 2.0 and t.attrs["rtol"] == 1e-6
    per_sample = t.drop_duplicates("position").set_index("sample")
    assert per_sample["label"].tolist() == [0, 1, 1]  # the store's labels, all given
    # fooled: wrong on x + delta and right on x (sample 12 was wrong on x already)
    assert per_sample["fooled"].tolist() == [False, True, False]
    assert per_sample["rank"].tolist() == [1, 0, 2]  # fooled first, then store order
    lat = t[t["attack"] == "latent"].set_index("sample")
    np.testing.assert_allclose(lat["norm"], [5.0, 0.0, np.sqrt(2)])
    np.testing.assert_allclose(lat["scale"], [4.0, 1.0, 1.0])  # 1 for the zero vector
    np.testing.assert_allclose(lat["on_share"], [9 / 25, np.nan, 0.5])
    pix = t[t["attack"] == "pixel_sigma0"].set_index("sample")
    np.testing.assert_allclose(pix["scale"], [1.0, 2.0, 1.0])
    shares = t[["on_share", "random_share"]].to_numpy()
    assert ((shares[np.isfinite(shares)] >= 0) & (shares[np.isfinite(shares)] <= 1)).all()
    assert pix["pred_full"].tolist() == [0, 0, 0]
    # without labels in the store, the dataset's
    dec["label"][:] = -1
    t = sp.decomposition_table(dec, data)
    assert t.drop_duplicates("position")["label"].tolist() == [0, 0, 1]


def test_decomposition_table_matches_the_figure(stores):
    dec, data = stores["decs"][0], stores["data"]["taylor"]
    t = sp.decomposition_table(dec, data)
    assert len(t) == dec.sizes["sample"] * dec.sizes["attack"]
    for a in dec["attack"].values:
        np.testing.assert_array_equal(
            t.loc[t["attack"] == a, "on_share"], dec["on_share"].sel(attack=a).values
        )
    fig = sp.draw_decomposition(t, dec, data, n_rows=2)
    top = fig.subfigs[0]
    first = t[t["rank"] == 0].iloc[0]
    assert f"sample {int(first['sample'])}" in top.axes[0].get_title()
    # the first attack's colour scale is the table's
    assert top.axes[1].get_images()[0].get_clim() == (-first["scale"], first["scale"])


def _hand_error_stores():
    """Dataset of 6 curves (labels 1 0 1 0 1 0), a training store whose sigma-0 model
    errs on positions 0, 1, 4, a latent store whose label-unchanged errors (at eps 0.5)
    are positions 0 and 5, and pixel stores for sigma 0 (3 samples, errors 0, 1) and
    sigma 0.1 (all errors)."""
    samples = np.arange(10, 16)
    lab = np.array([1, 0, 1, 0, 1, 0], np.int8)
    data = xr.Dataset(
        {"label": ("sample", lab), "image": (("sample", "c", "r", "q"), np.zeros((6, 1, 4, 4)))},
        coords={"sample": samples},
        attrs={"variant": "taylor"},
    )
    proba = np.array([0.2, 0.9, 0.8, 0.1, 0.4, 0.3])
    training = xr.Dataset(
        {"test_proba": (("test_variant", "sample"), np.stack([proba, 1 - proba]))},
        coords={"test_variant": ["taylor", "sinenet"], "sample": samples},
    )
    label_adv = lab.copy()
    label_adv[2] = 0  # the attack changed the true label of curve 2
    pred_adv = 1 - label_adv
    pred_adv[[1, 3]] = label_adv[[1, 3]]  # not fooled
    latent = xr.Dataset(
        {
            "label": ("sample", lab),
            "clean_proba": ("sample", np.array([0.9, 0.1, 0.9, 0.1, 0.2, 0.1])),  # 4 wrong
            "pred_adv": (("sample", "eps"), np.stack([lab, pred_adv], 1)),
            "label_adv": (("sample", "eps"), np.stack([lab, label_adv], 1)),
        },
        coords={"sample": samples, "eps": [0.1, 0.5]},
    )

    def pixel(sample, label, proba, success):
        return xr.Dataset(
            {
                "label": ("sample", np.asarray(label)),
                "clean_proba": ("sample", np.asarray(proba)),
                "pgd_success": (("sample", "eps"), np.stack([~np.asarray(success), success], 1)),
            },
            coords={"sample": sample, "eps": [0.5, 1.0]},
            attrs={"focus_eps": 1.0},
        )

    pixels = {
        0.0: pixel([11, 12, 13], [0, 1, 0], [0.1, 0.9, 0.9], np.array([True, True, True])),
        0.1: [pixel([10, 11], [1, 0], [0.9, 0.1], np.array([True, True]))],
    }
    return data, training, latent, pixels


def test_errors_table_hand_values():
    data, training, latent, pixels = _hand_error_stores()
    t = sp.errors_table(data, training, latent, pixels, 0.5, n=25)
    assert list(t.columns) == ["panel", "position", "sample", "label", "error", "shown"]
    # one row per sample of each panel's store
    assert t.groupby("panel").size().to_dict() == {"a": 6, "b": 6, "c": 3, "d": 2}
    err = {p: np.flatnonzero(g["error"]).tolist() for p, g in t.groupby("panel")}
    assert err == {"a": [0, 1, 4], "b": [0, 5], "c": [0, 1], "d": [0, 1]}
    assert t.loc[t["panel"] == "c", "sample"].tolist() == [11, 12, 13]
    # every error shown (n is large), self-intersecting (label 1) ones first
    for p, g in t.groupby("panel"):
        shown = g[g["shown"] >= 0].sort_values("shown")
        assert len(shown) == g["error"].sum() and shown["error"].all()
        assert shown["shown"].tolist() == list(range(len(shown)))
        assert (np.diff(shown["label"].to_numpy()) <= 0).all(), p
    panels = t.attrs["panels"]
    assert panels["a"] == {"sigma": 0.0, "eps": None, "eps_index": None}
    assert panels["b"] == {"sigma": None, "eps": 0.5, "eps_index": 1}
    assert panels["c"] == {"sigma": 0.0, "eps": 1.0, "eps_index": 1}
    assert panels["d"]["sigma"] == 0.1
    assert t.attrs["variant"] == "taylor" and t.attrs["resolution"] == 4
    # at most n shown, drawn from one Generator panel after panel
    t1 = sp.errors_table(data, training, latent, pixels, 0.5, n=1, seed=5)
    assert t1.groupby("panel")["shown"].max().tolist() == [0, 0, 0, 0]
    a = t1[t1["panel"] == "a"]
    pick = sp._pick_errors(
        a["label"].to_numpy(), a["error"].to_numpy(), 1, np.random.default_rng(5)
    )
    assert a.loc[a["shown"] == 0, "position"].tolist() == pick.tolist()
    assert a.loc[a["shown"] == 0, "label"].item() == 1
    assert t1.equals(sp.errors_table(data, training, latent, pixels, 0.5, n=1, seed=5))
    # missing stores
    t0 = sp.errors_table(data, training, None, {}, 0.5)
    assert set(t0["panel"]) == {"a"}
    assert [t0.attrs["panels"][p] for p in "bcd"] == [None, None, None]
    with pytest.raises(ValueError, match="not in the store's grid"):
        sp.errors_table(data, training, latent, pixels, 0.3)
    with pytest.raises(ValueError, match="no samples"):
        sp.errors_table(data.isel(sample=slice(0, 0)), training, latent, pixels, 0.5)


def test_errors_table_matches_the_figure(stores):
    data = stores["data"]["taylor"]
    tr = stores["trainings"][("taylor", 0.0)][0]
    lat = stores["latents"][0]
    px = {s: v[0] for s, v in stores["pixels"].items()}
    e = sp.lowest_accuracy_eps([lat])
    t = sp.errors_table(data, tr, lat, px, e, n=4)
    fig = sp.draw_errors(t, data, lat, px)
    for sf, p in zip(fig.subfigs, "abcd", strict=True):
        g = t[t["panel"] == p]
        assert sum(len(ax.get_images()) for ax in sf.axes) == (g["shown"] >= 0).sum()
        assert f"of {len(g)}" in sf._suptitle.get_text()


# ----------------------------------------------------------------------------- loss ablation


def test_loss_ablation_figure_and_metrics(stores):
    """The attack-objective ablation: one line per objective and space, the values of
    latent_curves / pixel_curves; the metrics per objective, seed means of the same."""
    lat, px = stores["latents"], stores["pixels"]
    # the same stores stand in for a second objective: the figure and the metrics must
    # then show identical numbers for both
    latent = {"cross_entropy": lat, "margin": lat}
    pixel = {"cross_entropy": px, "margin": px}
    fig = sp.loss_figure(latent, pixel)
    al, ap = fig.axes[:2]
    assert len(al.get_lines()) == 2 and len(ap.get_lines()) == 2 * len(px)
    assert [ln.get_linestyle() for ln in al.get_lines()] == ["-", "--"]
    want = np.mean([se.latent_curves(d)["accuracy"] for d in lat], axis=0)
    np.testing.assert_allclose(al.get_lines()[1].get_ydata(), want)
    m = se.loss_ablation_metrics("sinenet", latent, pixel)
    for loss in latent:
        pre = f"squiggles/sinenet-loss_{loss}"
        assert m[f"{pre}/latent_accuracy_min"]["mean"] == pytest.approx(float(want.min()))
        g = min(px)
        k = list(px[g][0]["eps"].values).index(px[g][0].attrs["focus_eps"])
        at = np.mean([se.pixel_curves(d)["pgd_accuracy"][k] for d in px[g]])
        assert m[f"{pre}/pixel_accuracy_at_focus_sigma{g:g}"]["mean"] == pytest.approx(at)
    with pytest.raises(ValueError, match="no stores"):
        sp.loss_figure({}, pixel)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_loss_stores_are_grouped_as_listed():
    from pipeline_lib.studies.squiggles.registry import by_loss

    p = {"losses": ["cross_entropy", "margin"], "sigmas": ["0", "0.08"], "seeds": [0, 1]}
    lat = ["ce-s0", "ce-s1", "m-s0", "m-s1"]
    pix = [f"{lo}-g{g}-s{s}" for lo in ("ce", "m") for g in ("0", "0.08") for s in (0, 1)]
    latent, pixel = by_loss(lat, pix, p)
    assert latent == {"cross_entropy": ["ce-s0", "ce-s1"], "margin": ["m-s0", "m-s1"]}
    assert pixel["margin"][0.08] == ["m-g0.08-s0", "m-g0.08-s1"]
    assert pixel["cross_entropy"][0.0] == ["ce-g0-s0", "ce-g0-s1"]


def test_attack_vectors_figure(stores):
    px = {g: runs[0] for g, runs in stores["pixels"].items()}
    data = stores["data"][stores["variant"]]
    fig = sp.attack_vectors_figure(data, px, n=3)
    vectors = [im for ax in fig.axes for im in ax.get_images() if im.get_gid() == "vector"]
    n_err = {
        g: se.attack_vectors(p, data["image"].values[: p.sizes["sample"]])[0].size
        for g, p in px.items()
    }
    assert len(vectors) == sum(min(3, k) for k in n_err.values())
    for im in vectors:  # symmetric diverging scale
        lo, hi = im.get_clim()
        assert lo == pytest.approx(-hi)
    titles = [sf._suptitle.get_text() for sf in fig.subfigs]
    for g, k in n_err.items():
        assert any(t.startswith(f"σ = {g:g} model: {k} errors") for t in titles)
    with pytest.raises(ValueError, match="no pixel stores"):
        sp.attack_vectors_figure(data, {})
