"""The Squiggles experiments (pipeline_lib.squiggle_experiments): training, ROC-AUC,
latent PGD, distance to the true boundary, pixel attacks, the tangent decomposition
and the headline metrics."""

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn
from torch.func import jacfwd

from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.studies.squiggles import generators as sq

RES = 16


@pytest.fixture(scope="module")
def taylor():
    return sq.make_dataset("taylor", 24, 0, "test", RES)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    model, _, _ = se.build_classifier({"arch": "cnn", "width": 2, "blocks": 2}, RES)
    return model.eval()


def test_roc_auc_matches_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        pos.size * neg.size
    )
    assert se.roc_auc(y, s) == pytest.approx(brute)
    assert se.roc_auc(y, y) == 1.0
    assert se.roc_auc(y, -y) == 0.0
    assert np.isnan(se.roc_auc(np.ones(5), np.arange(5)))


def _bright_task(n=256, seed=0):
    """Class 1: a bright 3x3 blob somewhere; class 0: empty. Learnable in one epoch."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, RES, RES)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(1, RES - 2, (n, 2), generator=g)
    for i in range(n):
        if y[i]:
            r, c = pos[i]
            x[i, 0, r - 1 : r + 2, c - 1 : c + 2] = 1.0
    return x, y


def test_training_learns_decays_lr_and_is_seeded():
    x, y = _bright_task()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        m, _, _ = se.build_classifier({"arch": "cnn", "width": 4, "blocks": 2}, RES)
        hist = se.train_classifier(
            m,
            x,
            y,
            epochs=10,  # BN running statistics need ~50+ steps
            lr=0.01,
            batch_size=32,
            noise_sigma=0.05,
            seed=3,
            evaluate=lambda mm: {
                "acc": float(((se.predict_proba(mm, x) > 0.5) == y.numpy()).mean())
            },
            log=lambda s: None,
        )
        runs.append((m, hist))
    (m1, h1), (m2, h2) = runs
    assert h1["acc"].values[-1] > 0.9
    assert h1["lr"].values[-1] < 1e-6 < h1["lr"].values[0]  # cosine decay to 0
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_training_divergence_names_model_and_epoch():
    x, y = _bright_task(64)
    m, _, _ = se.build_classifier({"arch": "cnn", "width": 2, "blocks": 1}, RES)
    with pytest.raises(FloatingPointError, match=r"net-x diverged at epoch 1"):
        se.train_classifier(
            m,
            x * float("nan"),
            y,
            epochs=2,
            lr=0.01,
            batch_size=32,
            noise_sigma=0.0,
            seed=0,
            name="net-x",
            log=lambda s: None,
        )


def test_resnet34_gray_builds_for_one_channel():
    m, kind, kw = se.build_classifier({"arch": "resnet34"}, 60)
    assert kind == "resnet34_gray" and kw["in_shape"] == (1, 60, 60)
    assert m.eval()(torch.zeros(2, 1, 60, 60)).shape == (2, 2)


def test_latent_pgd_stays_in_ball_and_box(taylor, cnn):
    z = torch.as_tensor(taylor["latent"].values[:6])
    y = torch.as_tensor(taylor["label"].values[:6]).long()
    eps = torch.tensor([0.01, 0.1, 0.5, 1.0, 2.0, 4.0])
    za = se.latent_pgd(cnn, "taylor", z, y, eps, steps=5, step_ratio=2.0, resolution=RES)
    assert ((za - z).norm(dim=1) <= eps + 1e-5).all()
    assert za.abs().max() <= 1.0 + 1e-6  # Taylor's prior support
    assert (za - z).norm(dim=1)[-1] > 0.5  # it moved


def test_latent_pgd_towards_lowers_target_loss(cnn):
    ds = sq.make_dataset("sinenet", 8, 1, "test", RES)
    z = torch.as_tensor(ds["latent"].values)
    target = torch.ones(8, dtype=torch.long)

    def loss(zz):
        with torch.no_grad():
            return nn.functional.cross_entropy(cnn(sq.decode("sinenet", zz, RES)), target).item()

    za = se.latent_pgd(
        cnn,
        "sinenet",
        z,
        target,
        torch.full((8,), 0.5),
        steps=10,
        step_ratio=5,
        resolution=RES,
        towards=True,
    )
    assert loss(za) < loss(z)


def test_latent_attack_recomputes_true_labels(taylor, cnn):
    n = 6
    z = torch.as_tensor(taylor["latent"].values[:n])
    y = torch.as_tensor(taylor["label"].values[:n]).long()
    ds = se.latent_attack(cnn, "taylor", z, y, [0.05, 2.0], steps=3, step_ratio=2, resolution=RES)
    assert ds["pred_adv"].shape == (n, 2) and ds["latent_adv"].shape == (n, 2, 14)
    za = torch.as_tensor(ds["latent_adv"].values.reshape(2 * n, 14))
    expect = sq.labels(sq.curve_points("taylor", za).numpy()).reshape(n, 2)
    assert (ds["label_adv"].values == expect).all()
    assert (ds["latent_norm"].values <= np.array([0.05, 2.0]) + 1e-5).all()
    c = se.latent_curves(ds)
    assert c["accuracy"].shape == (2,)
    assert ((0 <= c["unchanged"]) & (c["unchanged"] <= 1)).all()


def test_boundary_distance_is_smallest_flipping_eps(taylor, cnn):
    n = 12
    z = torch.as_tensor(taylor["latent"].values[:n])
    y = torch.as_tensor(taylor["label"].values[:n]).long()
    grid = [2.0, 0.05, 0.5]  # unsorted on purpose
    ds = se.boundary_distance(cnn, "taylor", z, y, grid, steps=4, step_ratio=2, resolution=RES)
    eps = ds["eps"].values
    assert list(eps) == sorted(grid)
    fl, att, d = ds["flipped"].values, ds["attacked"].values, ds["distance"].values
    for i in range(n):
        hits = np.nonzero(fl[i])[0]
        if hits.size:
            assert d[i] == eps[hits[0]]
            assert not att[i, hits[0] + 1 :].any()  # never attacked again after a flip
        else:
            assert np.isinf(d[i]) and att[i].all()
    assert not (fl & ~att).any()


def test_noise_attack_uses_exact_norm():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            seen.append(x.flatten(1).norm(dim=1))
            return torch.stack([x.flatten(1).sum(1), torch.zeros(x.shape[0])], 1)

    x = torch.zeros(5, 1, RES, RES)
    acc, fooled = se.noise_attack(Probe(), x, torch.zeros(5, dtype=torch.long), [0.3, 2.0], 3, 0)
    norms = torch.cat(seen)
    assert torch.allclose(norms[:15], torch.full((15,), 0.3), atol=1e-5)
    assert torch.allclose(norms[15:], torch.full((15,), 2.0), atol=1e-5)
    assert acc.shape == (5, 2) and ((acc < 1) == fooled).all()


def test_pixel_attack_focus_and_norms(taylor, cnn):
    x = torch.as_tensor(taylor["image"].values[:8])
    y = torch.as_tensor(taylor["label"].values[:8]).long()
    with pytest.raises(ValueError, match="focus_eps"):
        se.pixel_attack(
            cnn, x, y, [0.1, 1.0], steps=2, step_ratio=2, focus_eps=0.5, noise_draws=1, seed=0
        )
    ds = se.pixel_attack(
        cnn, x, y, [0.1, 3.0], steps=5, step_ratio=2, focus_eps=3.0, noise_draws=2, seed=0
    )
    assert (ds["pgd_norm"].values <= np.array([0.1, 3.0]) + 1e-4).all()
    d = (ds["x_adv_focus"].values - x.numpy()).reshape(8, -1)
    assert (np.linalg.norm(d, axis=1) <= 3.0 + 1e-4).all()
    with torch.no_grad():
        pred = cnn(torch.as_tensor(ds["x_adv_focus"].values)).argmax(1).numpy()
    assert ((pred != y.numpy()) == ds["pgd_success"].values[:, 1]).all()
    c = se.pixel_curves(ds)
    assert c["pgd_accuracy"].shape == (2,)


@pytest.mark.parametrize("variant", ["taylor", "sinenet"])
def test_tangent_basis_matches_full_jacobian_svd(variant):
    z = torch.as_tensor(sq.make_dataset(variant, 1, 2, "test", RES)["latent"].values[0])
    basis, s = se.tangent_basis(variant, z, RES, 1e-4)
    jac = jacfwd(lambda c: sq.decode(variant, c[None], RES).reshape(-1))(z.double())
    u, s2, _ = torch.linalg.svd(jac, full_matrices=False)
    k = basis.shape[1]
    assert 0 < k < z.numel() + 1
    assert torch.allclose(s[:k], s2[:k], rtol=1e-6, atol=1e-12)
    assert torch.allclose(basis.T @ basis, torch.eye(k, dtype=basis.dtype), atol=1e-10)
    # the same subspace: all principal cosines 1
    assert torch.linalg.svdvals(basis.T @ u[:, :k]).min() > 1 - 1e-8


def test_decompose_tangent_vector_is_on_manifold(taylor, cnn):
    n = 3
    z = torch.as_tensor(taylor["latent"].values[:n])
    x = torch.as_tensor(taylor["image"].values[:n])
    on_vecs, rnd = [], torch.randn(n, 1, RES, RES, generator=torch.Generator().manual_seed(0))
    for i in range(n):
        b, _ = se.tangent_basis("taylor", z[i], RES, 1e-3)
        on_vecs.append((b @ torch.ones(b.shape[1], dtype=b.dtype)).reshape(1, RES, RES).float())
    deltas = {"tangent": 0.1 * torch.stack(on_vecs), "random": rnd}
    ds = se.decompose(
        {"tangent": cnn, "random": cnn},
        "taylor",
        z,
        x,
        deltas,
        resolution=RES,
        rtol=1e-3,
        seed=0,
        labels=torch.as_tensor(taylor["label"].values[:n]).long(),
    )
    share = ds["on_share"]
    assert np.allclose(share.sel(attack="tangent"), 1.0, atol=1e-5)
    k = ds["tangent_rank"].values
    # a random vector: a small share, close to rank / n^2 like the random-subspace control
    assert (share.sel(attack="random").values < 0.5).all()
    assert np.allclose(ds["random_share"].sel(attack="random").values, k / RES**2, atol=0.15)
    off = ds["delta"] - ds["delta_on"]
    assert np.allclose(
        (ds["delta_on"] ** 2).sum(("channel", "row", "col"))
        + (off**2).sum(("channel", "row", "col")),
        (ds["delta"] ** 2).sum(("channel", "row", "col")),
        rtol=1e-4,
    )


def _store(kind, **data):
    return xr.Dataset({k: (dims, v) for k, (dims, v) in data.items()}, attrs={"store_kind": kind})


def test_error_groups_and_metrics_on_hand_made_stores():
    eps = np.array([0.1, 1.0])
    # 4 attacked curves (sample 1 misclassified), then one more misclassified and one more
    # correct curve measured for the groups
    dist = xr.Dataset(
        {
            "distance": ("sample", np.array([0.1, 1.0, np.inf, 0.1, 0.1, 1.0])),
            "label": ("sample", np.array([0, 1, 0, 1, 1, 0])),
            "in_attack_set": ("sample", np.array([1, 1, 1, 1, 0, 0], bool)),
            "model_pred": ("sample", np.array([0, 0, 0, 1, 0, 0])),
            "steer_pred": ("sample", np.array([0, 1, 0, 1, 0, 1])),
        },
        coords={"eps": eps, "sample": [0, 1, 2, 3, 17, 40]},
    )
    latent = xr.Dataset(
        {
            "label": ("sample", np.array([0, 1, 0, 1])),
            "clean_proba": ("sample", np.array([0.1, 0.2, 0.3, 0.9])),  # sample 1 wrong
            "pred_adv": (("sample", "eps"), np.array([[1, 0], [0, 0], [0, 0], [0, 1]])),
            "label_adv": (("sample", "eps"), np.array([[0, 0], [1, 1], [0, 0], [1, 1]])),
        },
        coords={"eps": eps},
        attrs={"store_kind": "latent"},
    )
    pix = xr.Dataset(
        {
            "label": ("sample", np.array([0, 1, 0, 1])),
            "clean_proba": ("sample", np.array([0.1, 0.2, 0.3, 0.9])),
            "pgd_success": (("sample", "eps"), np.array([[0, 1], [1, 1], [1, 1], [0, 0]], bool)),
        },
        coords={"eps": eps},
        attrs={"focus_eps": 1.0, "store_kind": "pixel"},
    )
    g = se.error_groups(dist, latent, {"0": pix})
    assert g["all"].tolist() == [0.1, 1.0, np.inf, 0.1]  # the attacked curves only
    assert g["misclassified"].tolist() == [1.0, 0.1]  # every measured one
    assert g["correct"].tolist() == [0.1, np.inf, 0.1, 1.0]
    # latent: best eps is 0.1 (accuracy 1/4 vs 2/4); errors among clean-correct 0, 2, 3
    assert g["adversarial_latent"].tolist() == [0.1, 0.1]
    assert g["adversarial_pixel_sigma0"].tolist() == [0.1, np.inf]
    assert se.cdf(g["all"], eps).tolist() == [0.5, 0.75]
    agree = se.steer_agreement(dist, latent, {"0": pix})
    assert agree["all"].tolist() == [1, 0, 1, 1]
    assert agree["misclassified"].tolist() == [0, 1]
    sh = se.within_shares(g["misclassified"], eps)
    assert sh["share"] == [0.5, 1.0] and sh["n"] == 2
    assert sh["ci"][0][0] < 0.5 < sh["ci"][0][1]
    tests = se.group_tests(g, 0.1)
    assert set(tests) >= {"misclassified_vs_correct", "adversarial_latent_vs_misclassified"}
    assert 0 < tests["misclassified_vs_correct"]["fisher_p"] <= 1
    assert tests["misclassified_vs_correct"]["n"] == [2, 4]
    # stores of a different run (attack set of another size) are refused
    with pytest.raises(ValueError, match="different runs"):
        se.error_groups(dist, latent.isel(sample=slice(0, 3)), {})
    m = se.distance_metrics("squiggles/x", {"0": [dist], "0.08": [dist]}, [latent], {"0": [pix]})
    assert m["squiggles/x/distance_misclassified_n"] == 2
    assert m["squiggles/x/steer_sigma0.08/distance_misclassified_n"] == 2
    assert m["squiggles/x/steer_sigma0/agreement_all"]["rate"] == 0.75
    assert m["squiggles/x/distance_steering"] == ["0", "0.08"]


def test_distance_sample_takes_attacked_misclassified_and_correct_curves():
    label = np.zeros(50, int)
    pred = np.zeros(50, int)
    pred[[1, 10, 20, 30, 40]] = 1  # five misclassified curves, one of them attacked
    idx = se.distance_sample(pred, label, 5, None, None, seed=0)
    assert set(range(5)) <= set(idx) and {10, 20, 30, 40} <= set(idx)
    assert np.all(np.diff(idx) > 0)
    # as many correct as misclassified: the 4 attacked correct ones and one more
    assert (pred[idx] == label[idx]).sum() == 5 and idx.size == 10
    # at most 3 misclassified (the attacked one and 2 drawn), 8 correct; seeded
    idx2 = se.distance_sample(pred, label, 5, 3, 8, seed=3)
    assert (pred[idx2] != label[idx2]).sum() == 3 and (pred[idx2] == label[idx2]).sum() == 8
    np.testing.assert_array_equal(idx2, se.distance_sample(pred, label, 5, 3, 8, seed=3))
    assert not np.array_equal(idx2, se.distance_sample(pred, label, 5, 3, 8, seed=4))
    # more correct ones wanted than exist: every one is taken
    idx3 = se.distance_sample(pred, label, 5, None, 60, seed=0)
    assert (pred[idx3] == label[idx3]).sum() == 45 and idx3.size == 50


def test_predict_proba_batches_and_empty(taylor, cnn):
    x = torch.as_tensor(taylor["image"].values[:7])
    with torch.no_grad():
        full = cnn(x).softmax(1)[:, 1].numpy()
    p = se.predict_proba(cnn, x, batch=3)
    assert p.dtype == np.float32 and np.allclose(p, full, atol=1e-6)
    empty = se.predict_proba(cnn, x[:0])
    assert empty.dtype == np.float32 and empty.shape == (0,)


def test_with_generalization_adds_table_6_per_test_variant():
    hist = xr.Dataset(coords={"epoch": [1, 2]})
    gen = {
        "taylor": {"accuracy": 0.9, "roc_auc": 0.95, "proba": np.array([0.1, 0.8, 0.6])},
        "sinenet": {"accuracy": 0.6, "roc_auc": 0.7, "proba": np.array([0.5, 0.4, 0.3])},
    }
    out = se.with_generalization(hist, gen)
    assert list(out.test_variant.values) == ["taylor", "sinenet"]
    assert out.accuracy.sel(test_variant="sinenet") == 0.6
    assert out.roc_auc.sel(test_variant="taylor") == 0.95
    assert out.test_proba.dims == ("test_variant", "sample")
    np.testing.assert_array_equal(out.test_proba.sel(test_variant="taylor"), [0.1, 0.8, 0.6])
    assert all(out[v].attrs["description"] for v in ("accuracy", "roc_auc", "test_proba"))


def test_attack_loss_is_one_setting_for_both_spaces(taylor, cnn):
    """squiggles.attack.loss: with two classes the margin's and the cross-entropy's
    gradients point the same way, so the normalised latent steps (and latents) agree;
    the stores record the loss, and an unknown loss is refused."""
    n = 6
    z = torch.as_tensor(taylor["latent"].values[:n])
    y = torch.as_tensor(taylor["label"].values[:n]).long()
    kw = dict(steps=4, step_ratio=4.0, resolution=RES)
    eps = torch.full((n,), 0.3)
    zm = se.latent_pgd(cnn, "taylor", z, y, eps, loss="margin", **kw)
    zc = se.latent_pgd(cnn, "taylor", z, y, eps, **kw)

    assert not torch.equal(zm, z)
    torch.testing.assert_close(zm, zc, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="loss must be"):
        se.latent_pgd(cnn, "taylor", z, y, eps, loss="hinge", **kw)
    ds = se.latent_attack(cnn, "taylor", z, y, [0.3], loss="margin", **kw)
    assert ds.attrs["loss"] == "margin"
    x = torch.as_tensor(taylor["image"].values[:n])
    px = se.pixel_attack(
        cnn, x, y, [0.3], steps=3, step_ratio=2, focus_eps=0.3, noise_draws=1, seed=0
    )
    assert px.attrs["loss"] == "cross_entropy"


def test_high_frequency_share_of_known_patterns():
    n = 60
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    checker = ((-1.0) ** (i + j))[None, None]
    smooth = np.sin(2 * np.pi * i / n)[None, None] * np.cos(2 * np.pi * j / n)[None, None]
    noise = np.random.default_rng(0).normal(size=(400, 1, n, n))
    hf = se.high_frequency_share(np.concatenate([checker, smooth]))
    assert hf[0] == pytest.approx(1.0) and hf[1] == pytest.approx(0.0, abs=1e-12)
    # white noise: the share of the frequency square outside |f| <= 1/4 on both axes
    inside = np.abs(np.fft.fftfreq(n)) <= 0.25
    expect = 1 - inside.mean() ** 2
    assert np.mean(se.high_frequency_share(noise)) == pytest.approx(expect, abs=0.01)
    assert np.isnan(se.high_frequency_share(np.zeros((1, 1, n, n))))[0]


def test_attack_vectors_are_the_focus_errors_minus_the_clean_images():
    x = np.arange(4 * 9, dtype=np.float32).reshape(4, 1, 3, 3) / 36
    adv = x + 0.1
    px = xr.Dataset(
        {
            "label": ("sample", np.array([0, 1, 0, 1])),
            "clean_proba": ("sample", np.array([0.1, 0.2, 0.3, 0.9])),  # sample 1 wrong
            "pgd_success": (("sample", "eps"), np.array([[1, 1], [1, 1], [0, 0], [0, 1]], bool)),
            "x_adv_focus": (("sample", "channel", "row", "col"), adv),
        },
        coords={"eps": [0.15, 0.3]},
        attrs={"focus_eps": 0.3},
    )
    rows, vec = se.attack_vectors(px, x)
    assert rows.tolist() == [0, 3]  # clean correct and fooled at the focus eps
    np.testing.assert_allclose(vec, 0.1, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        se.attack_vectors(px, x[:3])


def test_group_stores_by_kind_attribute_and_seed():
    def st(kind, seed, **attrs):
        return xr.Dataset(attrs={"store_kind": kind, "seed": seed, **attrs})

    stores = [st("pixel", 1, sigma=0.08), st("pixel", 0, sigma=0.08), st("pixel", 0, sigma=0.0)]
    stores += [st("latent", 1), st("latent", 0)]
    assert [s.attrs["seed"] for s in se.group_stores(stores, "latent")] == [0, 1]
    by = se.group_stores(stores, "pixel", "sigma", ["0", "0.08", "0.5"])
    assert [s.attrs["seed"] for s in by["0.08"]] == [0, 1]
    assert len(by["0"]) == 1 and by["0.5"] == []


# ----------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("variant", sq.VARIANTS)
def test_streamed_chunks_are_the_stored_sets_rows(variant):
    """Any chunk of a split, made alone, is the same rows of a stored set of that split:
    latents, images and labels bitwise."""
    ds = sq.make_dataset(variant, 700, 5, "train", 16)
    z = sq.latent_rows(variant, 5, "train", 333, 250)
    assert torch.equal(z, torch.as_tensor(ds.latent.values[333:583]))
    x, y = sq.curve_chunk(variant, 5, "train", 333, 250, 16)
    assert torch.equal(x, torch.as_tensor(ds.image.values[333:583]))
    assert torch.equal(y, torch.as_tensor(ds.label.values[333:583]).long())
    # the test split is another stream
    xt, _ = sq.curve_chunk(variant, 5, "test", 333, 250, 16)
    assert not torch.equal(xt, x)


def _stream_batches(stream, batch, seed, epochs=(1,)):
    return list(se.stream_batches(stream, batch, seed, list(epochs)))


def _images(batches):
    return torch.cat([xb for _, xb, _ in batches])


def test_a_streamed_epoch_sees_every_curve_once_in_a_seeded_order():
    stream = se.CurveStream("taylor", 0, n=300, resolution=12, chunk=100, workers=0)
    ds = sq.make_dataset("taylor", 300, 0, "train", 12)
    batches = _stream_batches(stream, 32, seed=1)  # chunks of 96: 4 chunks, last of 12
    assert all(len(yb) <= 32 and e == 1 for e, _, yb in batches)
    assert len(batches) == 10  # whole batches per chunk: ceil(300 / 32)
    xs = _images(batches).flatten(1)
    stored = torch.as_tensor(ds.image.values).flatten(1)
    # the same multiset of images (each stored image once), in another order
    assert xs.shape == stored.shape
    key = lambda t: sorted(map(tuple, t[:, :40].tolist()))  # noqa: E731
    assert key(xs) == key(stored) and not torch.equal(xs, stored)
    # seeded: the same seed the same order, another seed another; epochs differ
    assert torch.equal(_images(_stream_batches(stream, 32, seed=1)), _images(batches))
    assert not torch.equal(_images(_stream_batches(stream, 32, seed=2)), _images(batches))
    two = _stream_batches(stream, 32, seed=1, epochs=(1, 2))
    assert torch.equal(_images([b for b in two if b[0] == 1]), _images(batches))
    assert not torch.equal(_images([b for b in two if b[0] == 2]), _images(batches))
    # a resumed run asks for epoch 2 alone: the same batches as epoch 2 of the whole run
    alone = _stream_batches(stream, 32, seed=1, epochs=(2,))
    assert torch.equal(_images(alone), _images([b for b in two if b[0] == 2]))
    # the number of workers changes nothing
    for workers in (1, 2):
        w = se.CurveStream("taylor", 0, n=300, resolution=12, chunk=100, workers=workers)
        assert torch.equal(_images(_stream_batches(w, 32, seed=1, epochs=(1, 2))), _images(two))


def test_streamed_training_learns_and_matches_across_workers():
    runs = []
    for workers in (0, 1):
        torch.manual_seed(1)
        m, _, _ = se.build_classifier({"arch": "cnn", "width": 4, "blocks": 2}, 16)
        stream = se.CurveStream("taylor", 0, n=256, resolution=16, chunk=64, workers=workers)
        hist = se.train_classifier(
            m, None, None, epochs=2, lr=0.01, batch_size=32, noise_sigma=0.05, seed=3,
            log=lambda s: None, stream=stream,
        )  # fmt: skip
        runs.append((m, hist))
    (m1, h1), (m2, h2) = runs
    assert np.isfinite(h1["loss"].values).all() and h1.sizes["epoch"] == 2
    np.testing.assert_array_equal(h1["loss"].values, h2["loss"].values)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x, y = torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="not both"):
        se.train_classifier(
            m1, x, y, epochs=1, lr=0.01, batch_size=2, noise_sigma=0, seed=0, stream=stream
        )


def test_generator_discriminator_store_and_its_control():
    """Sec. 4.2 footnote 4: the discriminator's store, its label-only control computed
    from the training curves' self-intersection shares, and its metrics."""
    cfg = {"arch": "cnn", "width": 4, "blocks": 2, "lr": 0.003, "batch_size": 64}
    kw = dict(n_train=60, n_test=40, epochs=1, seed=3, log=lambda m: None)
    st = se.discriminator_store(cfg, 16, **kw)
    assert st.sizes["sample"] == 80 and st.sizes["epoch"] == 1
    assert list(np.bincount(st.generator.values)) == [40, 40]
    assert np.array_equal(st.correct.values, (st.p_sinenet.values > 0.5) == st.generator.values)
    # the control maps each label to the generator it is more frequent in (training curves)
    train = [
        sq.make_dataset(v, 60, 3, "val", 16, shard=1).label.values for v in ("taylor", "sinenet")
    ]
    rule = {
        lab: int(np.mean(train[1] == lab) * 60 > np.mean(train[0] == lab) * 60) for lab in (0, 1)
    }
    expect = np.array([rule[int(i)] for i in st.intersects.values]) == st.generator.values
    assert np.array_equal(st.label_only_correct.values, expect)
    # the test curves are not the training curves (shard 2 of the val split)
    test_taylor = sq.make_dataset("taylor", 40, 3, "val", 16, shard=2)
    assert np.array_equal(st.intersects.values[:40], test_taylor.label.values)
    m = se.discriminator_metrics(st)
    assert m["squiggles/discriminator/n_test"] == 80
    assert 0 <= m["squiggles/discriminator/test_accuracy"] <= 1
    for name, v in st.data_vars.items():
        assert v.attrs.get("description"), name


def test_fig3_store_pixel_vs_latent_at_growing_eps(taylor, cnn):
    from pipeline_lib.studies.squiggles import plots

    n = 3
    z = torch.as_tensor(taylor["latent"].values[:n])
    y = torch.as_tensor(taylor["label"].values[:n]).long()
    lat = se.latent_attack(cnn, "taylor", z, y, [0.05, 2.0], steps=3, step_ratio=2, resolution=RES)
    lat = lat.assign_coords(sample=taylor["sample"].values[:n])
    st = se.fig3_store(
        cnn, "taylor", taylor, lat, [0.1, 1.0, 4.0], n=2, steps=4, step_ratio=2, loss="margin"
    )
    assert st.pixel_adv.shape == (3, 2, 1, RES, RES) and st.latent_adv.shape == (2, 2, 1, RES, RES)
    # all steps of eps / ratio: the perturbation reaches the eps ball's size (no early stop)
    d = (st.pixel_adv - st.image).values.reshape(3, 2, -1)
    norms = np.linalg.norm(d, axis=-1)
    assert (norms <= np.array([0.1, 1.0, 4.0])[:, None] + 1e-4).all()
    assert (norms[2] > 1.0).all()
    # the latent points are the latent attack's, decoded; labels are the recomputed ones
    za = torch.as_tensor(lat.latent_adv.values[:2, 1])
    np.testing.assert_allclose(
        st.latent_adv.values[1], sq.decode("taylor", za, RES).numpy().reshape(2, 1, RES, RES),
        atol=1e-5,  # decoded in another batch: float rounding
    )  # fmt: skip
    assert np.array_equal(st.latent_label.values, lat.label_adv.values[:2].T)
    with torch.no_grad():
        pred = cnn(torch.as_tensor(st.pixel_adv.values[0])).argmax(1).numpy()
    assert np.array_equal(st.pixel_pred.values[0], pred)
    fig = plots.fig3_figure(st, n=2)
    assert len(fig.axes) == 2 * 2 * 4  # 2 curves x (pixel, latent) rows, 1 + 3 columns
    import matplotlib.pyplot as plt

    plt.close(fig)
