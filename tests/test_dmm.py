import json
import math

import numpy as np
import pytest
import torch
import xarray as xr
import zarr

from pipeline_lib.metrics import write_json
from pipeline_lib.studies.dmm import experiment as dmm
from pipeline_lib.zarr_io import group as zarr_io_group
from pipeline_lib.zarr_io import open_store, table_dataset, write_store

AE = {"kind": "mlp", "k": 3, "hidden": [32], "width": 8, "epochs": 30, "lr": 0.01, "batch_size": 16}
CLF = {
    "kind": "mlp",
    "width": 8,
    "epochs": 15,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 16,
}
ATTACKS = {
    "attack": {"eps": 3.0, "step": 0.1, "steps": 60},
    "constrained": {"eps": 6.0, "step": 0.05, "steps": 200, "on_step_factor": 10},
    "linf": {"eps": 0.3, "step": 0.02, "steps": 40},
}


def tiny_dataset(n_train=90, n_test=45, classes=(0, 3, 5), seed=0) -> xr.Dataset:
    """Store-shaped toy images: 1x8x8, a class-specific bright block on a mid-grey
    background (values in 0.2..0.8, so small attacks rarely touch the [0,1] box)."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = np.asarray(classes)[np.arange(n) % len(classes)]
    img = 0.35 + 0.05 * rng.standard_normal((n, 1, 8, 8))
    for i, c in enumerate(labels):
        r = 2 * (list(classes).index(c))
        img[i, 0, r : r + 3, 1:7] += 0.35
    img = np.clip(img, 0.2, 0.8).astype(np.float32)
    return xr.Dataset(
        {
            "image": (("sample", "channel", "row", "col"), img, {"description": "x"}),
            "label": (("sample",), labels, {"description": "y"}),
        },
        coords={
            "sample": np.arange(n),
            "split": ("sample", np.array(["train"] * n_train + ["test"] * n_test)),
            "channel": [0],
            "row": np.arange(8),
            "col": np.arange(8),
            "class_index": ("class_index", np.asarray(classes)),
            "class_name": ("class_index", np.asarray([f"c{c}" for c in classes])),
        },
        attrs={"dataset": "toy", "title": "Toy", "n_features": 64},
    )


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    ds = tiny_dataset()
    cpu = torch.device("cpu")
    ae, _, _, ae_store = dmm.fit_autoencoder(ds, AE, 0, cpu)
    clean = dmm.fit_classifier(ds, CLF, "clean", 0, cpu)
    tangents = dmm.tangent_store(ds, ae, 30, cpu)
    attacks = dmm.attack_store(clean[0], tangents, ATTACKS, 0, cpu, path_steps=11)
    return {
        "ds": ds,
        "ae": ae,
        "ae_store": ae_store,
        "clean": clean,
        "tangents": tangents,
        "attacks": attacks,
    }


# ------------------------------------------------------------------ ratio analysis


def test_projection_ratio_known_angles():
    basis = torch.eye(5)[:2][None].repeat(3, 1, 1)  # span(e0, e1) in R^5
    d = torch.tensor([[1.0, 2.0, 0, 0, 0], [1.0, 0, 1.0, 0, 0], [0, 0, 0, 3.0, 0]])
    r = dmm.projection_ratio(d, basis)
    assert r[0] == pytest.approx(1.0)
    assert r[1] == pytest.approx(math.sqrt(2))  # 45 degrees off the subspace
    assert torch.isinf(r[2])  # perpendicular
    p = dmm.project(d, basis)
    torch.testing.assert_close(dmm.project(p, basis), p)  # a projection is idempotent


def test_random_vector_ratio_matches_closed_form():
    """App. I: for Gaussian r and a k-dim subspace of R^n, R^2 = 1 + chi2(n-k)/chi2(k);
    its mean is 1 + (n-k)/(k-2) (not the paper's n/k); sqrt(n/k) sits below the RMS."""
    n, k, m = 784, 16, 4000
    gen = torch.Generator().manual_seed(0)
    basis = dmm.random_orthonormal(1, k, n, gen).expand(m, k, n)
    r = torch.randn(m, n, generator=gen)
    ratio = dmm.projection_ratio(r, basis).double()
    ref = dmm.expected_random_ratio(n, k)
    rms = ratio.pow(2).mean().sqrt().item()
    assert rms == pytest.approx(ref["rms_exact"], rel=0.05)
    assert ref["rms_exact"] > ref["sqrt_n_over_k"] * 1.05
    # the same ratio for a random subspace and a fixed vector has the same law
    basis2 = dmm.random_orthonormal(m, k, n, gen)
    ratio2 = dmm.projection_ratio(r[:1].expand(m, n), basis2).double()
    assert ratio2.pow(2).mean().sqrt().item() == pytest.approx(ref["rms_exact"], rel=0.05)


def test_random_orthonormal_is_orthonormal():
    b = dmm.random_orthonormal(4, 3, 20, torch.Generator().manual_seed(1))
    torch.testing.assert_close(b @ b.transpose(1, 2), torch.eye(3).expand(4, 3, 3))


def test_relative_effect_and_gradient_share_on_a_linear_model():
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
    basis = torch.eye(6)[:2][None].repeat(4, 1, 1)
    x = torch.rand(4, 6)
    d = torch.randn(4, 6)
    d_on = dmm.project(d, basis)
    src, tgt = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 0, 2])
    total, rel = dmm.relative_effect(lin, x, d, d_on, src, tgt, (6,))
    w = lin[1].weight.detach()
    diff = w[tgt] - w[src]
    torch.testing.assert_close(total, (diff * d).sum(1))
    torch.testing.assert_close(rel, (diff * d_on).sum(1) / (diff * d).sum(1))
    # a model whose weights live in the subspace has its whole gradient on it
    with torch.no_grad():
        lin[1].weight[:, 2:] = 0
    y = torch.zeros(4, dtype=torch.long)
    share = dmm.gradient_on_share(lin, x, y, basis)
    torch.testing.assert_close(share, torch.ones(4))


def test_logit_path_endpoints():
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x0, x1 = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    z = dmm.logit_path(lin, x0, x1, 7)
    assert z.shape == (3, 7, 2)
    with torch.no_grad():
        torch.testing.assert_close(z[:, 0], lin(x0))
        torch.testing.assert_close(z[:, -1], lin(x1))
        torch.testing.assert_close(z[:, 3], lin((x0 + x1) / 2))  # linear model: midpoint


def test_object_mass_share():
    x = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    assert dmm.object_mass_share(torch.tensor([[1.0, 1.0, 1.0, 1.0]]), x, 0.5) == 0.5
    assert dmm.object_mass_share(torch.tensor([[0.0, 0.0, 2.0, 1.0]]), x, 0.5) == 1.0


# ------------------------------------------------------------------ labels and targets


def test_class_positions():
    np.testing.assert_array_equal(dmm.class_positions(np.array([5, 0, 3]), [0, 3, 5]), [2, 0, 1])
    np.testing.assert_array_equal(dmm.class_positions(np.array([7, 2]), [7, 2]), [0, 1])
    with pytest.raises(ValueError, match="outside"):
        dmm.class_positions(np.array([4]), [0, 3, 5])


def test_mislabeled_targets():
    y = torch.arange(10).repeat(300)
    gen = torch.Generator().manual_seed(0)
    torch.testing.assert_close(dmm.mislabeled_targets(y, "det", 10, gen), (y + 1) % 10)
    t = dmm.mislabeled_targets(y, "rand", 10, gen)
    assert (t != y).all()
    assert set(t[y == 3].tolist()) == set(range(10)) - {3}
    with pytest.raises(ValueError):
        dmm.mislabeled_targets(y, "bogus", 10, gen)


# ------------------------------------------------------------------ models and stores


def test_autoencoder_and_tangent_store(trained):
    ae_store, tg = trained["ae_store"], trained["tangents"]
    assert ae_store.train_loss.values[-1] < ae_store.train_loss.values[0]
    assert ae_store.sizes["sample"] == 45
    b = torch.as_tensor(tg.basis.values)
    assert b.shape == (30, 3, 64)
    torch.testing.assert_close(
        b @ b.transpose(1, 2), torch.eye(3).expand(30, 3, 3), atol=1e-4, rtol=0
    )
    # jacfwd basis agrees with the App. D.2 finite-difference basis
    assert float(tg.fd_min_cosine.min()) > 0.99
    np.testing.assert_array_equal(tg.sample.values, trained["ds"].sample.values[90:120])


def test_streamed_tangent_store_equals_in_memory(trained, tmp_path):
    """write_tangent_store (pieces of 7 samples, 23 = 3 * 7 + 2) writes bitwise what
    tangent_store returns, read back from a lazily opened data store."""
    ds, ae, cpu = trained["ds"], trained["ae"], torch.device("cpu")
    data = open_store(write_store(ds, tmp_path / "data.zarr", "toy data", {}), load=False)
    want = dmm.tangent_store(ds, ae, 23, cpu, chunk=7)
    calls, logged = [], []

    def prov():
        calls.append(1)
        return {"n_samples": 23}

    path = dmm.write_tangent_store(
        data, ae, 23, cpu, tmp_path / "t.zarr", "tangents", prov, chunk=7, log=logged.append
    )
    assert calls == [1] and logged[-1] == "tangent bases 23/23" and len(logged) == 4
    got = open_store(path)
    assert set(got.variables) == set(want.variables)
    for name, v in want.variables.items():
        assert got[name].dims == v.dims and got[name].dtype == v.dtype, name
        assert got[name].values.tobytes() == v.values.tobytes(), name
        assert got[name].attrs.get("description") == v.attrs.get("description"), name
    assert {k: got.attrs[k] for k in want.attrs} == want.attrs
    assert got.attrs["provenance"] == {"n_samples": 23} and got.attrs["description"] == "tangents"
    assert zarr.open_group(path, mode="r")["basis"].chunks == (7, 3, 64)
    # images, labels and sample ids are split()'s, read lazily
    x, y, ids = dmm.split(ds, "test")
    np.testing.assert_array_equal(want.image.values, x[:23].reshape(23, -1).numpy())
    np.testing.assert_array_equal(want.label.values, y[:23].numpy())
    np.testing.assert_array_equal(want.sample.values, ids[:23])


def test_classifier_variants_and_checkpoints(trained, tmp_path):
    ds = trained["ds"]
    model, kind, kwargs, states, hist = trained["clean"]
    assert len(states) == CLF["epochs"] + 1 and hist.sizes["epoch"] == CLF["epochs"] + 1
    assert hist.test_accuracy.values[-1] > 0.9  # the toy classes are easy
    path = tmp_path / "ck.pt"
    dmm.save_checkpoints(path, kind, kwargs, states)
    assert [e for e, _ in dmm.iter_checkpoints(path)] == list(range(CLF["epochs"] + 1))
    last = dmm.load_checkpoint(path, CLF["epochs"])
    x, _, _ = dmm.split(ds, "test")
    with torch.no_grad():
        torch.testing.assert_close(last(x), model(x))
        assert not torch.allclose(dmm.load_checkpoint(path, 0)(x), model(x))
    with pytest.raises(IndexError):
        dmm.load_checkpoint(path, CLF["epochs"] + 1)
    cfg = {**CLF, "epochs": 2}
    rnd = dmm.fit_classifier(ds, cfg, "random_labels", 0, torch.device("cpu"))[4]
    assert rnd.train_accuracy.values[-1] < 0.8
    with pytest.raises(ValueError, match="adversarial"):
        dmm.fit_classifier(ds, cfg, "adversarial", 0, torch.device("cpu"))
    adv = dmm.fit_classifier(
        ds,
        cfg,
        "adversarial",
        0,
        torch.device("cpu"),
        adversarial={"eps": 0.5, "step": 0.25, "steps": 2},
    )[4]
    assert adv.sizes["epoch"] == 3


def test_attack_store(trained):
    st, tg = trained["attacks"], trained["tangents"]
    n = st.sizes["sample"]
    assert 0 < n <= 30 and set(st.sample.values) <= set(tg.sample.values)
    ok = st.pgd_success.values
    assert ok.mean() > 0.5
    assert (st.pgd_norm.values[ok] <= ATTACKS["attack"]["eps"] + 1e-4).all()
    assert np.isnan(st.ratio.values[~ok]).all() and (st.ratio.values[ok] >= 1 - 1e-4).all()
    # on-manifold PGD steps stay in the tangent space; off-manifold ones leave it (only
    # clipping to [0,1] puts a little back on it; sqrt(n/k) = 4.6 for a random vector)
    on = st.c_ratio.sel(attack="on").values
    off = st.c_ratio.sel(attack="off").values
    assert np.nanmax(on) < 1.01 and np.nanmedian(off) > 15 and np.nanmin(off) > 5
    x = st.image.values
    for v in ("pgd_delta", "linf_delta"):
        adv = x + st[v].values
        assert adv.min() >= -1e-6 and adv.max() <= 1 + 1e-6
    assert np.abs(st.linf_delta.values).max() <= ATTACKS["linf"]["eps"] + 1e-6
    # logit path starts at the clean logits for every path
    z0 = st.path_logits.isel(t=0).values
    np.testing.assert_allclose(z0[:, 0], z0[:, 1], rtol=1e-5, atol=1e-5)
    assert st.path_logits.sizes["t"] == 11
    assert np.array_equal(st.path_flips.sel(path="full").values[ok], np.ones(ok.sum(), bool))
    assert ((st.grad_on_share.values >= 0) & (st.grad_on_share.values <= 1 + 1e-5)).all()


def test_distance_store_matches_a_linear_boundary(tmp_path):
    """A linear 2-class model (MLPClassifier without hidden layers): the distance to the
    boundary is |gap| / |w1 - w0|; the PGD bisection must find it from above."""
    from pipeline_lib.models import build_model

    torch.manual_seed(0)
    kwargs = {"in_shape": (1, 4, 4), "hidden": (), "n_classes": 2}
    x = 0.4 + 0.2 * torch.rand(20, 1, 4, 4)
    states = []
    for scale in (1.0, 2.0):
        m = build_model("mlp_classifier", **kwargs)
        lin = m.net[-1]
        with torch.no_grad():
            lin.weight.mul_(scale)
            w = lin.weight[1] - lin.weight[0]
            lin.bias[1] = lin.bias[0] - (x.flatten(1) @ w).median()  # boundary among the x
        states.append(m.state_dict())
    path = tmp_path / "lin.pt"
    dmm.save_checkpoints(path, "mlp_classifier", kwargs, states)
    y = torch.zeros(20, dtype=torch.long)
    cfg = {"eps_max": 3.0, "rel_step": 0.02, "steps": 100, "bisections": 12}
    st = dmm.distance_store(path, x, y, cfg, torch.device("cpu"))
    assert st.distance.shape == (2, 20)
    for e in range(2):
        lin = dmm.load_checkpoint(path, e).net[-1]
        w = (lin.weight[1] - lin.weight[0]).detach()
        gap = (x.flatten(1) @ w + (lin.bias[1] - lin.bias[0]).detach()).abs()
        exact = (gap / w.norm()).numpy()
        found = st.distance.values[e]
        inside = exact < 0.2  # the box [0,1] cannot get in the way
        assert inside.sum() >= 3
        assert (found[inside] >= exact[inside] - 1e-4).all()
        np.testing.assert_allclose(found[inside], exact[inside], rtol=0.05, atol=2e-3)


def test_mislabeled_experiment_runs_and_reports(trained):
    ds = trained["ds"]
    n1 = trained["clean"][0]
    cfg = {"eps": 2.0, "step": 0.1, "steps": 30, "batch": 50}
    clf = {**CLF, "epochs": 5}
    out = dmm.mislabeled_experiment(ds, "det", n1, cfg, clf, [0, 5], 0, torch.device("cpu"))
    for name in ("n1_test_accuracy", "n2_test_accuracy", "control_test_accuracy"):
        assert 0 <= float(out[name]) <= 1
    assert float(out.chance) == pytest.approx(1 / 3)
    assert float(out.n1_target_rate) > 0.5  # the targeted attack reaches its targets
    assert float(out.perturbation_norm) <= cfg["eps"] + 1e-4
    two = dmm.mislabeled_experiment(ds, "two_class", None, cfg, clf, [0, 5], 0, torch.device("cpu"))
    assert float(two.chance) == 0.5 and two.attrs["n_train"] == 60
    with pytest.raises(ValueError, match="N1"):
        dmm.mislabeled_experiment(ds, "rand", None, cfg, clf, [0, 5], 0, torch.device("cpu"))
    with pytest.raises(ValueError, match="not in the dataset"):
        dmm.subset_classes(ds, [0, 9])


def test_metrics_are_json_and_aggregate_over_seeds(trained, tmp_path):
    st = trained["attacks"]
    hist = trained["clean"][4]
    dist = xr.Dataset(
        {"distance": (("epoch", "sample"), np.array([[0.5, np.inf], [1.0, 2.0]]))},
        coords={"epoch": [0, 1]},
    )
    dist2 = dist.copy(data={"distance": np.array([[np.nan, np.nan], [3.0, 1.0]])})
    mis = xr.Dataset(
        {
            k: ((), np.float64(v))
            for k, v in {
                "n1_test_accuracy": 0.9,
                "n1_target_rate": 1.0,
                "perturbation_norm": 2.0,
                "n2_test_accuracy": 0.5,
                "n2_test_accuracy_shifted": np.nan,
                "n2_train_accuracy": 1.0,
                "control_test_accuracy": 0.01,
                "chance": 0.1,
                "n2_agreement_clean": 0.8,
                "n2_agreement_adv": 0.4,
                "n2_grad_cosine": 0.3,
                "baseline_agreement_clean": 0.9,
                "baseline_agreement_adv": np.nan,
                "baseline_grad_cosine": 0.5,
                "similarity_perturbed_share": 1.0,
            }.items()
        }
    )
    failed = st.copy(deep=True)
    failed["pgd_success"][:] = False
    m = dmm.dmm_metrics(
        "toy",
        trained["ae_store"],
        trained["tangents"],
        trainings={"clean": [hist, hist]},
        attacks={"clean": [st, st], "adversarial": [st, failed]},
        distances={"clean": [dist, dist2]},
        mislabeled={"rand": [mis]},
    )
    write_json(m, tmp_path / "m.json")  # no NaN may reach the JSON
    back = json.loads((tmp_path / "m.json").read_text())
    r = back["dmm_natural/toy-clean/norm_ratio"]
    assert r["n_seeds"] == 2 and r["std"] == pytest.approx(0.0)
    assert r["q25"] <= r["median"] <= r["q75"]
    curve = back["dmm_natural/toy-clean/boundary_distance_curve"]
    assert curve["mean"] == [0.5, 1.75] and curve["epoch"] == [0, 1]
    assert back["dmm_natural/toy-clean/boundary_distance_min"]["per_seed"] == [0.5, 2.0]
    assert back["dmm_natural/toy-clean/boundary_distance_argmin_epoch"]["per_seed"] == [0, 1]
    assert back["dmm_natural/toy-adversarial/pgd_success_rate"]["per_seed"][1] == 0.0
    assert back["dmm_natural/toy-adversarial/full_projection_flip_rate"]["per_seed"][1] is None
    assert back["dmm_natural/toy-mislabeled_rand/n2_test_accuracy_shifted"]["mean"] is None
    assert back["dmm_natural/toy/k"] == 3
    assert back["dmm_natural/toy/rms_random_ratio_exact"] == pytest.approx(math.sqrt(1 + 61 / 1))
    assert "dmm_natural/toy/adversarial_over_clean_off_pgd_distance" in back
    assert back["dmm_natural/toy-mislabeled_rand/n2_grad_cosine"]["mean"] == 0.3
    assert back["dmm_natural/toy-mislabeled_rand/baseline_agreement_adv"]["mean"] is None
    assert "dmm_natural/toy/noise_over_clean_off_pgd_distance" not in back


def test_group_orders_name_major():
    g = zarr_io_group(["a0", "a1", "b0", "b1"], ["a", "b"], [0, 1], str.upper)
    assert g == {"a": ["A0", "A1"], "b": ["B0", "B1"]}
    with pytest.raises(ValueError):
        zarr_io_group(["a0"], ["a", "b"], [0], str)


def test_attack_store_with_no_correct_image_and_caller_model_untouched(trained):
    """A classifier that gets nothing right yields an empty (but valid) store, and the
    caller's model keeps its parameter gradients."""
    model = trained["clean"][0]
    tg = trained["tangents"].copy(deep=True)
    with torch.no_grad():
        pred = model(torch.as_tensor(tg.image.values).reshape(-1, 1, 8, 8)).argmax(1)
    tg["label"][:] = ((pred + 1) % 3).numpy()
    st = dmm.attack_store(model, tg, ATTACKS, 0, torch.device("cpu"), path_steps=5)
    assert st.sizes["sample"] == 0 and st.c_delta.shape == (0, 3, 64)
    assert all(p.requires_grad for p in model.parameters())


def test_cifar_shaped_chain_with_conv_models():
    """The CIFAR-10 path (App. D.3/G.2): VGG-style autoencoder with plain upsampling and
    the small conv classifier on 3x32x32 images, through tangents and attacks."""
    rng = np.random.default_rng(0)
    base = tiny_dataset(n_train=24, n_test=8, classes=(0, 1))
    img = np.clip(0.3 + 0.1 * rng.standard_normal((32, 3, 32, 32)), 0, 1).astype(np.float32)
    img[base.label.values == 1, :, 8:24, 8:24] += 0.4
    ds = base.drop_vars("image").assign_coords(
        channel=[0, 1, 2], row=np.arange(32), col=np.arange(32)
    )
    ds["image"] = (("sample", "channel", "row", "col"), np.clip(img, 0, 1), {"description": "x"})
    cpu = torch.device("cpu")
    ae_cfg = {**AE, "kind": "vgg", "k": 6, "width": 4, "epochs": 1}
    ae, kind, kwargs, _ = dmm.fit_autoencoder(ds, ae_cfg, 0, cpu)
    assert kind == "vgg_autoencoder" and kwargs["k"] == 6
    clf = {**CLF, "kind": "convnet", "width": 4, "epochs": 3}
    model = dmm.fit_classifier(ds, clf, "clean", 0, cpu)[0]
    assert type(model).__name__ == "SmallConvNet"
    tg = dmm.tangent_store(ds, ae, 4, cpu)
    assert tg.basis.shape == (4, 6, 3 * 32 * 32)
    assert float(tg.fd_min_cosine.min()) > 0.95
    small = {k: {**v, "steps": 3} for k, v in ATTACKS.items()}
    st = dmm.attack_store(model, tg, small, 0, cpu, path_steps=3)
    assert st.attrs["image_shape"] == [3, 32, 32] and st.c_delta.sizes["feature"] == 3072


def test_attack_store_follows_its_variable_table(trained):
    """attack_store's variables, in order, with the dims, description and units of
    ATTACK_VARS (the object-pixel threshold filled into its description)."""
    st = trained["attacks"]
    assert list(st.data_vars) == list(dmm.ATTACK_VARS)
    for name, (dims, description, units) in dmm.ATTACK_VARS.items():
        assert st[name].dims == dims, name
        assert st[name].attrs.get("units") == units, name
        if "$" not in description:
            assert st[name].attrs["description"] == description, name
    desc = st.object_pixel_share.attrs["description"]
    assert desc == "share of pixels with x > 0.1 (object pixels)"
    values = {name: np.zeros(0) for name in dmm.ATTACK_VARS if name != "ratio"}
    with pytest.raises(ValueError, match="ratio"):
        table_dataset(dmm.ATTACK_VARS, values, fields={"object_threshold": 0.1})
