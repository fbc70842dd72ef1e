"""Issue 19's controls of the natural-image DMM study: random subspace for the
constrained attacks, locally linear prediction, random start, clipped uniform baseline,
the Gaussian-noise variant and Sec. 5.2's boundary similarity."""

import math

import numpy as np
import pytest
import torch
from test_dmm import ATTACKS, CLF, tiny_dataset
from torch import nn

from pipeline_lib.attacks import pgd, subspace_projector
from pipeline_lib.studies.dmm import controls, registry
from pipeline_lib.studies.dmm import experiment as dmm

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def chain():
    torch.manual_seed(0)
    ds = tiny_dataset()
    ae = dmm.fit_autoencoder(ds, {**_AE, "epochs": 10}, 0, CPU)[0]
    model = dmm.fit_classifier(ds, {**CLF, "epochs": 8}, "clean", 0, CPU)[0]
    tangents = dmm.tangent_store(ds, ae, 20, CPU)
    attacks = dmm.attack_store(model, tangents, ATTACKS, 0, CPU, path_steps=5)
    store = controls.controls_store(model, tangents, attacks, ATTACKS, 0, CPU)
    return {"ds": ds, "model": model, "tangents": tangents, "attacks": attacks, "store": store}


_AE = {
    "kind": "mlp",
    "k": 3,
    "hidden": [32],
    "width": 8,
    "epochs": 30,
    "lr": 0.01,
    "batch_size": 16,
}


def test_uniform_object_share_known_answer():
    # two background pixels at 0 keep only the + step: (a^2 + 0) / 2 each; two object
    # pixels at 0.5 keep both: a^2 each -> share 2 a^2 / 3 a^2 = 2/3 (unclipped: 1/2)
    x = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    share = controls.uniform_object_share(x, torch.tensor([0.2]), 0.1)
    assert float(share) == pytest.approx(2 / 3)
    # a pixel at 0.95 keeps min(a, 0.05) of a + step
    x = torch.tensor([[0.95, 0.5]])
    share = controls.uniform_object_share(x, torch.tensor([0.2]), 0.9)
    assert float(share) == pytest.approx((0.05**2 + 0.04) / 2 / ((0.05**2 + 0.04) / 2 + 0.04))
    # sampling random signs and clipping agrees with the exact expectation
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 400, generator=gen) * (torch.rand(1, 400, generator=gen) > 0.5)
    a = 0.15
    signs = torch.randint(0, 2, (4000, 400), generator=gen) * 2 - 1
    d = (x + a * signs).clamp(0, 1) - x
    mask = (x > 0.1).float()
    sampled = float(((d**2) * mask).sum() / (d**2).sum())
    exact = float(controls.uniform_object_share(x, torch.tensor([a]), 0.1))
    assert sampled == pytest.approx(exact, abs=2e-3)
    assert math.isnan(float(controls.uniform_object_share(x, torch.tensor([math.nan]), 0.1)))


def test_linear_prediction_values():
    s = torch.tensor([1 / math.sqrt(2), 1.0, 0.6])
    torch.testing.assert_close(
        controls.linear_on_over_off(s), torch.tensor([1.0, 0.0, 0.8 / 0.6], dtype=torch.float64)
    )


def test_linear_prediction_matches_constrained_pgd_on_a_linear_model():
    """On a linear classifier the on/off-subspace PGD distances are m/|Pg| and m/|(1-P)g|:
    their ratio is sqrt(1 - s^2) / s (up to one step's overshoot; no clipping)."""
    torch.manual_seed(1)
    n, k = 30, 5
    w = torch.randn(n)
    w = w / w.norm()
    x = 0.5 + 0.01 * torch.randn(4, n)
    model = nn.Linear(n, 2)
    with torch.no_grad():
        b = 1.0 - float(w @ x.mean(0))  # margins w.x + b of about 1
        model.weight.copy_(torch.stack([w / 2, -w / 2]))
        model.bias.copy_(torch.tensor([b / 2, -b / 2]))
    y = torch.zeros(len(x), dtype=torch.long)
    basis = dmm.random_orthonormal(len(x), k, n, torch.Generator().manual_seed(2))
    dist = {}
    for mode in ("on", "off"):
        res = pgd(
            model,
            x,
            y,
            eps=50.0,
            step_size=0.004,
            steps=3000,
            project=subspace_projector(basis, mode),
            box=(-100.0, 100.0),
        )
        assert res.success.all()
        dist[mode] = res.norm
    share = dmm.gradient_on_share(model, x, y, basis)
    pred = controls.linear_on_over_off(share).float()
    torch.testing.assert_close(dist["on"] / dist["off"], pred, rtol=1e-2, atol=0)


def test_controls_store(chain):
    st, att = chain["store"], chain["attacks"]
    assert np.array_equal(st.sample.values, att.sample.values)
    assert list(st.attack.values) == ["on", "off"]
    c = att.c_distance
    np.testing.assert_allclose(
        st.m_on_over_off.values, c.sel(attack="on").values / c.sel(attack="off").values
    )
    np.testing.assert_allclose(
        st.m_linear_on_over_off.values,
        np.sqrt(1 - att.grad_on_share.values**2) / att.grad_on_share.values,
        rtol=1e-5,
    )
    ok = st.rs_success.values
    assert ok.mean() > 0.5
    assert (st.rs_norm.values[ok] <= ATTACKS["attack"]["eps"] + 1e-4).all()
    assert (st.rs_ratio.values[ok] >= 1 - 1e-4).all() and np.isnan(st.rs_ratio.values[~ok]).all()
    share = st.l2_uniform_object_share.values
    fin = share[np.isfinite(share)]
    assert fin.size and ((fin >= 0) & (fin <= 1)).all()
    assert np.isnan(share[~att.pgd_success.values]).all()
    q = st.q_distance.values
    assert (q[np.isfinite(q)] <= ATTACKS["constrained"]["eps"] + 1e-4).all()
    assert ((st.grad_q_share.values >= 0) & (st.grad_q_share.values <= 1 + 1e-5)).all()
    again = controls.controls_store(
        chain["model"], chain["tangents"], att, ATTACKS, 0, CPU
    )  # seeded: the same numbers
    np.testing.assert_array_equal(again.rs_norm.values, st.rs_norm.values)
    for name in st.data_vars:
        assert st[name].attrs["description"]


def test_noise_variant_with_sigma_zero_is_clean_training():
    ds = tiny_dataset()
    cfg = {**CLF, "epochs": 2}
    clean = dmm.fit_classifier(ds, cfg, "clean", 3, CPU)
    zero = dmm.fit_classifier(ds, cfg, "noise", 3, CPU, noise={"sigma": 0.0})
    noisy = dmm.fit_classifier(ds, cfg, "noise", 3, CPU, noise={"sigma": 0.3})
    for a, b in zip(clean[3][-1].values(), zero[3][-1].values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(clean[3][-1].values(), noisy[3][-1].values(), strict=True)
    )
    assert set(noisy[3][-1]) == set(clean[3][-1])  # the inner model's state, unwrapped
    with pytest.raises(ValueError, match="noise"):
        dmm.fit_classifier(ds, cfg, "noise", 3, CPU)


def test_boundary_similarity_known_answers():
    torch.manual_seed(0)
    a = nn.Linear(6, 2)
    neg = nn.Linear(6, 2)
    with torch.no_grad():
        neg.weight.copy_(-a.weight)
        neg.bias.copy_(-a.bias)
    x = torch.randn(40, 6)
    y = a(x).argmax(1).detach()
    same = dmm.boundary_similarity(a, a, x, y, x[:5])
    assert same == {"agreement_clean": 1.0, "agreement_adv": 1.0, "grad_cosine": pytest.approx(1.0)}
    opp = dmm.boundary_similarity(a, neg, x, y, x[:0])
    assert opp["agreement_clean"] == 0.0 and math.isnan(opp["agreement_adv"])
    assert opp["grad_cosine"] == pytest.approx(-1.0)


def test_mislabeled_similarity_and_baseline(chain):
    ds, n1 = chain["ds"], chain["model"]
    cfg = {"eps": 2.0, "step": 0.1, "steps": 20, "batch": 50}
    clf = {**CLF, "epochs": 3}
    out = dmm.mislabeled_experiment(
        ds, "det", n1, cfg, clf, [0, 5], 0, CPU, baseline=n1, similarity_samples=10
    )
    # the baseline given is N1 itself: a perfect baseline pair
    assert float(out.baseline_agreement_clean) == 1.0
    assert float(out.baseline_agreement_adv) == 1.0
    assert float(out.baseline_grad_cosine) == pytest.approx(1.0)
    assert 0 <= float(out.n2_agreement_clean) <= 1
    assert out.attrs["similarity_samples"] == 10 and "another" in out.attrs["baseline"]
    two = dmm.mislabeled_experiment(ds, "two_class", None, cfg, clf, [0, 5], 0, CPU)
    assert "trained" in two.attrs["baseline"]
    assert -1 <= float(two.baseline_grad_cosine) <= 1


def test_registry_baseline_and_variants():
    cfg = {"dmm": {"seeds": [0, 1, 2], "variants": ["clean", "noise"]}}
    assert registry.mislabeled_baseline(cfg, "d", "det", 2) == [
        "results/dmm/d/clean/seed0/model.pt"
    ]
    assert registry.mislabeled_baseline(cfg, "d", "two_class", 0) == []
    assert registry.mislabeled_baseline({"dmm": {**cfg["dmm"], "seeds": [4]}}, "d", "rand", 4) == []
    assert registry.attack_variants(cfg) == ["clean", "noise"]
