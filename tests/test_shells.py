"""Model-shell defenses (Wu et al.): MCN / NCN searches on toys with known answers, the
shells, the adaptive BPDA attack, the evaluation protocol, metrics and figures."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import xarray as xr
from matplotlib.figure import Figure
from torch import nn

from pipeline_lib.attacks import pgd
from pipeline_lib.studies.shells import experiment as shells
from pipeline_lib.studies.shells import plots as shell_plots

P = 0.9
SCALE, BIAS, N_DUMMY = 100.0, 8.0, 4


class Blobs(nn.Module):
    """Logits ``BIAS - SCALE |x - c_k|^2`` for each centre plus N_DUMMY constant-0 logits:
    F is confident only near the centres ("manifolds") and nowhere above 1/N_DUMMY
    elsewhere. Near c_k (other centres far) F_k = e^a / (e^a + N_DUMMY), so
    F_k >= p exactly inside the ball of radius R_p around c_k."""

    def __init__(self, centres):
        super().__init__()
        self.register_buffer("c", torch.as_tensor(np.asarray(centres), dtype=torch.float32))

    def forward(self, x):
        f = x.flatten(1)
        d2 = ((f[:, None, :] - self.c[None]) ** 2).sum(-1)
        return torch.cat([BIAS - SCALE * d2, f.new_zeros(f.shape[0], N_DUMMY)], 1)


R_P = math.sqrt((BIAS - math.log(N_DUMMY * P / (1 - P))) / SCALE)  # 0.210
C0 = torch.full((4,), 0.3)
U = torch.tensor([1.0, 0.5, -0.3, 0.2]) / torch.tensor([1.0, 0.5, -0.3, 0.2]).norm()
MCN = {"kind": "mcn", "delta": 0.1, "norm": "l2", "steps": 40, "step": 0.01}
NCN = {"kind": "ncn", "p": P, "norm": "l2", "alphas": [1, 10, 100, 1000], "steps": 100, "lr": 2e-3}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add overhead (and spin on a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def blobs():
    return Blobs(torch.stack([C0, torch.full((4,), 0.7)]))


def off_region(extra: float = 0.08) -> torch.Tensor:
    """A point at distance R_p + extra from c0 (low confidence, predicted as a dummy)."""
    return (C0 + (R_P + extra) * U).reshape(1, 1, 2, 2)


def linf_to_ball(x: torch.Tensor, c: torch.Tensor, r: float) -> float:
    """Exact L-inf distance from x to the L2 ball B(c, r): bisection on t, moving every
    coordinate up to t towards c."""
    d = (x.flatten() - c).abs()
    lo, hi = 0.0, float(d.max())
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if float((d - mid).clamp_min(0).norm()) <= r else (mid, hi)
    return hi


# ----------------------------------------------------------------------------- (a) toy answers


def test_toy_is_as_designed():
    m = blobs()
    on_level = (C0 + R_P * U).reshape(1, 1, 2, 2)
    assert float(torch.softmax(m(on_level), 1)[0, 0]) == pytest.approx(P, abs=1e-4)
    prob = torch.softmax(m(off_region()), 1)[0]
    assert prob.argmax() >= 2 and prob[0] < 0.2  # off the region: a dummy wins, unconfident


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_mcn_pulls_point_into_confident_region(norm):
    m, x = blobs(), off_region()
    res = shells.shell(m, x, {**MCN, "norm": norm})
    d = (res.z - x).flatten()
    if norm == "l2":  # F_0 is radial around c0: the maximiser moves delta straight to c0
        expect = x.flatten() - MCN["delta"] * U
        assert torch.allclose(res.z.flatten(), expect, atol=2e-3)
    else:  # every coordinate moves min(delta, |x_i - c0_i|) towards c0 (within a step)
        gap = (x.flatten() - C0).abs()
        assert torch.allclose(d.abs(), gap.clamp(max=MCN["delta"]), atol=MCN["step"])
    assert int(res.pred) == 0 and int(res.target) == 0 and bool(res.feasible)
    r = float((res.z.flatten() - C0).norm())
    conf_max = 1 / (1 + N_DUMMY * math.exp(SCALE * r**2 - BIAS))
    assert float(res.conf) == pytest.approx(conf_max, abs=1e-4) and float(res.conf) > 0.9
    dist = float(d.norm() if norm == "l2" else d.abs().max())
    assert dist <= MCN["delta"] + 1e-6 and float(res.dist) == pytest.approx(dist, abs=1e-6)


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_ncn_finds_nearest_confident_point(norm):
    m, x = blobs(), off_region()
    z, dist, feas = shells.ncn_search(
        m, x, p=P, norm=norm, alphas=NCN["alphas"], steps=NCN["steps"], lr=NCN["lr"]
    )
    exact = 0.08 if norm == "l2" else linf_to_ball(x, C0, R_P)
    assert bool(feas[0, 0]) and not bool(feas[0, 1:].any())  # only class 0 can reach p
    assert float(torch.softmax(m(z[0, :1]), 1)[0, 0]) >= P
    assert exact - 1e-4 <= float(dist[0, 0]) <= exact + 0.006  # overshoot < ~1 Adam step
    res = shells.shell(m, x, {**NCN, "norm": norm})
    assert int(res.pred) == 0 and int(res.target) == 0 and bool(res.feasible)
    assert float(res.conf) >= P and float(res.dist) == pytest.approx(float(dist[0, 0]))


def test_ncn_confident_point_stays_put():
    m = blobs()
    x = (C0 + 0.05 * U).reshape(1, 1, 2, 2)  # deep inside region 0
    res = shells.shell(m, x, NCN)
    assert float(res.dist) == 0.0 and torch.equal(res.z, x) and int(res.pred) == 0


def test_ncn_infeasible_falls_back_to_most_confident():
    m = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    nn.init.zeros_(m[1].weight)
    with torch.no_grad():
        m[1].bias.copy_(torch.tensor([0.3, 0.0, 0.0]))  # F_0 = 0.40 everywhere < p
    x = torch.rand(3, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    res = shells.shell(m, x, {**NCN, "alphas": [1.0, 10.0], "steps": 5})
    assert not res.feasible.any() and (res.target == 0).all() and torch.allclose(res.z, x)


# ----------------------------------------------------------------------------- (b) MCN constraints


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_mcn_stays_in_ball_and_box(norm):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    x = torch.rand(6, 1, 6, 6)
    x[0] = 0.0
    x[1] = 1.0  # on the box's faces: projection must keep z inside
    delta = 0.3 if norm == "linf" else 1.0
    z, conf = shells.mcn_search(m, x, delta=delta, norm=norm, steps=15, step_size=delta / 5)
    assert z.shape == (6, 5, 1, 6, 6) and conf.shape == (6, 5)
    d = (z - x[:, None]).flatten(2)
    size = d.abs().amax(-1) if norm == "linf" else d.norm(dim=-1)
    assert (size <= delta + 1e-5).all() and z.min() >= 0 and z.max() <= 1
    with torch.no_grad():
        p0 = torch.softmax(m(x), 1)
        pz = torch.softmax(m(z.flatten(0, 1)), 1).reshape(6, 5, 5)
    assert torch.allclose(conf, pz.diagonal(dim1=1, dim2=2), atol=1e-6)
    assert (conf >= p0 - 1e-6).all()  # the start is an iterate: never worse than x


# ----------------------------------------------------------------------------- (c) dispatch


def test_shell_dispatch_batches_and_kinds():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Flatten(), nn.Linear(9, 3))
    x = torch.rand(5, 1, 3, 3)
    full = shells.shell(m, x, {**MCN, "steps": 5}, batch=64)
    chunked = shells.shell(m, x, {**MCN, "steps": 5}, batch=2)
    for f in ("z", "pred", "conf", "target", "dist", "feasible"):
        assert torch.allclose(getattr(full, f).float(), getattr(chunked, f).float(), atol=1e-6)
    assert full.z.shape == x.shape and full.feasible.all()
    z, conf = shells.mcn_search(m, x, delta=0.1, norm="l2", steps=5, step_size=0.01)
    assert torch.equal(full.target, conf.argmax(1))
    res = shells.shell(m, x, {**NCN, "steps": 5, "p": 0.5})
    assert res.z.shape == x.shape and res.feasible.dtype == torch.bool


CW = {"kind": "cw", "delta": 0.3, "confidence": 0.0, "c": 1.0, "binary_steps": 6, "steps": 200}


class Halfplane(nn.Module):
    """Two logits ``[0, w . x + b]``: class 1 leads exactly where ``w . x + b > 0``, so
    the nearest (L2) point of class 1 from x is ``x + (-(w . x + b) / |w|^2) w``."""

    def __init__(self, w, b):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(w, dtype=torch.float32))
        self.b = float(b)

    def forward(self, x):
        s = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(s), s], 1)


def test_cw_search_finds_the_nearest_point_of_the_target_label():
    w = torch.tensor([1.0, 2.0, -1.0, 0.5])
    m, x = Halfplane(w, -1.7), torch.full((1, 1, 2, 2), 0.5)
    margin = -float(x.flatten() @ w - 1.7)  # 0.45 short of class 1
    exact = margin / float(w.norm())
    z, conf, reached = shells.cw_search(
        m, x, lr=0.01, **{k: v for k, v in CW.items() if k != "kind"}
    )
    assert z.shape == (1, 2, 1, 2, 2) and bool(reached.all())
    # own label (0 leads at x): x itself; target 1: just across the line, near the nearest point
    assert torch.allclose(z[0, 0], x[0], atol=1e-5)
    d = z[0, 1] - x[0]
    assert float(m(z[0, 1:]).argmax()) == 1
    assert exact <= float(d.norm()) <= exact * 1.05
    cos = float(d.flatten() @ w / (d.norm() * w.norm()))
    assert cos > 0.99  # along w, as the nearest point is
    assert float(d.abs().max()) <= CW["delta"] + 1e-6
    # a delta too small to cross: not reached, still inside the ball and the box
    z, conf, reached = shells.cw_search(
        m, x, lr=0.01, **{k: v for k, v in {**CW, "delta": 0.05}.items() if k != "kind"}
    )
    assert bool(reached[0, 0]) and not bool(reached[0, 1])
    assert float((z - x[:, None]).abs().max()) <= 0.05 + 1e-6
    assert float(z.min()) >= 0 and float(z.max()) <= 1


def test_cw_shell_is_mcn_over_cw_embeddings():
    m = blobs()
    x = off_region()
    res = shells.shell(m, x, {**CW, "lr": 0.01, "binary_steps": 3, "steps": 50})
    z, conf, _ = shells.cw_search(
        m, x, delta=0.3, confidence=0.0, c=1.0, binary_steps=3, steps=50, lr=0.01
    )
    assert int(res.target) == int(conf.argmax(1)) and res.feasible.all()
    assert torch.allclose(res.z, z[0, int(res.target)][None])
    assert float(res.dist) <= 0.3 + 1e-6  # linf distance, within delta


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({**CW, "lr": 0.01, "c": 0.0}, "c out of range"),
        ({**CW, "lr": 0.01, "binary_steps": 0}, "binary_steps"),
        ({**CW, "lr": 0.01, "confidence": -1.0}, "confidence"),
        (dict(CW), "missing keys"),
        ({**MCN, "kind": "knn"}, "kind"),
        ({k: v for k, v in MCN.items() if k != "kind"}, "kind"),
        ({**MCN, "delta": 0.0}, "delta"),
        ({**MCN, "norm": "l1"}, "norm"),
        ({**MCN, "step": -1.0}, "step"),
        ({**MCN, "steps": 0}, "steps"),
        ({**MCN, "p": 0.9}, "unknown keys"),
        ({k: v for k, v in MCN.items() if k != "delta"}, "missing keys"),
        ({**NCN, "p": 1.0}, "p must be"),
        ({**NCN, "p": 0.0}, "p must be"),
        ({**NCN, "alphas": [10.0, 1.0]}, "alphas"),
        ({**NCN, "alphas": []}, "alphas"),
        ({**NCN, "lr": 0}, "lr"),
    ],
)
def test_shell_cfg_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        shells.shell(blobs(), off_region(), cfg)


def test_search_argument_errors():
    m, x = blobs(), off_region()
    with pytest.raises(ValueError, match="norm"):
        shells.mcn_search(m, x, delta=0.1, norm="l3", steps=1, step_size=0.1)
    with pytest.raises(ValueError, match="p must"):
        shells.ncn_search(m, x, p=1.5, norm="l2", alphas=[1], steps=1, lr=0.1)
    with pytest.raises(ValueError, match="non-empty"):
        shells.mcn_search(m, x[:0], delta=0.1, norm="l2", steps=1, step_size=0.1)


# ----------------------------------------------------------------------------- (d) BPDA


def test_bpda_breaks_shell_that_stops_transfer():
    """x deep in region 0; the base attack stops just past F's boundary, where MCN pulls
    it back (transfer fails); BPDA keeps pushing x' out until the delta-ball no longer
    reaches region 0 (adaptive succeeds)."""
    c0 = torch.full((4,), 0.35)
    m = Blobs(torch.stack([c0, torch.full((4,), 0.65)]))
    x, y = (c0 + 0.1 * U).reshape(1, 1, 2, 2), torch.tensor([0])
    cfg = {"kind": "mcn", "delta": 0.05, "norm": "linf", "steps": 20, "step": 0.01}
    eps = 0.3
    base = pgd(m, x, y, norm="linf", eps=eps, step_size=0.02, steps=50)
    assert base.success.all()
    assert (shells.shell(m, base.x_adv, cfg).pred == y).all()  # the shell defends
    gen = torch.Generator().manual_seed(0)
    kw = dict(eps=eps, step_size=0.02, steps=30, restarts=1, generator=gen)
    res = shells.bpda_attack(m, x, y, cfg, start=base.x_adv, **kw)
    assert res.success.all() and (res.steps > 0).all()
    assert (shells.shell(m, res.x_adv, cfg).pred != y).all()  # re-verified
    assert float(res.norm) <= eps + 1e-6 and float((res.x_adv - x).abs().max()) <= eps + 1e-6
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1


def test_bpda_never_weaker_than_transfer_and_respects_eps():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.rand(8, 1, 4, 4)
    with torch.no_grad():
        y = m(x).argmax(1)
    cfg = {"kind": "mcn", "delta": 0.05, "norm": "linf", "steps": 5, "step": 0.02}
    eps = 0.1
    base = pgd(m, x, y, norm="linf", eps=eps, step_size=0.02, steps=20)
    transfer = shells.shell(m, base.x_adv, cfg).pred != y
    gen = torch.Generator().manual_seed(0)
    res = shells.bpda_attack(
        m, x, y, cfg, eps=eps, step_size=0.02, steps=5, restarts=2, generator=gen, start=base.x_adv
    )
    assert (res.success | ~transfer).all()
    assert ((res.x_adv - x).abs().flatten(1).amax(1) <= eps + 1e-6).all()
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert torch.equal(res.success, shells.shell(m, res.x_adv, cfg).pred != y)
    assert ((res.steps >= 0) == res.success).all()


def test_apgd_checkpoints_and_square_schedule():
    # Croce & Hein's p_j: 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert shells.apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert shells.apgd_checkpoints(5) == [2, 3, 4, 5]
    assert shells.square_p(0, 1000, 0.3) == 0.3 and shells.square_p(1, 1000, 0.3) == 0.3
    assert shells.square_p(2, 1000, 0.3) == 0.15  # past 10 of 10 000 at this rate
    assert shells.square_p(999, 1000, 0.3) == pytest.approx(0.3 / 2**9)


@pytest.mark.parametrize("attack", ["apgd", "square"])
def test_extra_attacks_break_shell_that_stops_transfer(attack):
    """As for BPDA: x deep in region 0, the shell pulls the base attack's point back;
    APGD through the BPDA-wrapped shell and the gradient-free Square attack break it."""
    c0 = torch.full((4,), 0.35)
    m = Blobs(torch.stack([c0, torch.full((4,), 0.65)]))
    x, y = (c0 + 0.1 * U).reshape(1, 1, 2, 2), torch.tensor([0])
    cfg = {"kind": "mcn", "delta": 0.05, "norm": "linf", "steps": 20, "step": 0.01}
    eps = 0.3
    base = pgd(m, x, y, norm="linf", eps=eps, step_size=0.02, steps=50)
    assert (shells.shell(m, base.x_adv, cfg).pred == y).all()  # the shell defends
    gen = torch.Generator().manual_seed(0)
    if attack == "apgd":
        res, final = shells.apgd_attack(
            m, x, y, cfg, eps=eps, steps=30, restarts=1, generator=gen, start=base.x_adv
        )
    else:
        res, final = shells.square_attack(
            m, x, y, cfg, eps=eps, queries=50, p_init=0.3, generator=gen
        )
    assert res.success.all() and (res.steps >= 0).all()
    assert torch.equal(final.pred, shells.shell(m, res.x_adv, cfg).pred) and (final.pred != y).all()
    assert float((res.x_adv - x).abs().max()) <= eps + 1e-6
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1


def test_extra_attacks_respect_eps_and_are_deterministic():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.rand(8, 1, 4, 4)
    with torch.no_grad():
        y = m(x).argmax(1)
    cfg = {"kind": "mcn", "delta": 0.05, "norm": "linf", "steps": 5, "step": 0.02}
    eps = 0.1
    base = pgd(m, x, y, norm="linf", eps=eps, step_size=0.02, steps=20)
    transfer = shells.shell(m, base.x_adv, cfg).pred != y

    def run(a):
        gen = torch.Generator().manual_seed(1)
        if a == "apgd":
            return shells.apgd_attack(
                m, x, y, cfg, eps=eps, steps=6, restarts=2, generator=gen, start=base.x_adv
            )[0]
        return shells.square_attack(m, x, y, cfg, eps=eps, queries=20, p_init=0.3, generator=gen)[0]

    for a in ("apgd", "square"):
        res = run(a)
        assert ((res.x_adv - x).abs().flatten(1).amax(1) <= eps + 1e-6).all()
        assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
        assert torch.equal(res.success, shells.shell(m, res.x_adv, cfg).pred != y)
        assert ((res.steps >= 0) == res.success).all()
        again = run(a)
        assert torch.equal(again.x_adv, res.x_adv) and torch.equal(again.success, res.success)
    # APGD starts at the base attack's point: never weaker than the transfer attack
    assert (run("apgd").success | ~transfer).all()
    with pytest.raises(ValueError, match="queries"):
        shells.square_attack(m, x, y, cfg, eps=eps, queries=0, p_init=0.3, generator=None)


# ----------------------------------------------------------------------------- (e) evaluate

SHELLS = {
    "mcn": {"kind": "mcn", "delta": 0.1, "norm": "linf", "steps": 3, "step": 0.05},
    "ncn": {"kind": "ncn", "p": 0.6, "norm": "l2", "alphas": [1.0, 10.0], "steps": 3, "lr": 0.05},
}
ATTACK = {"eps": 0.1, "step": 0.03, "steps": 5, "restarts": 2}
ADAPTIVE = {"step": 0.03, "steps": 2, "restarts": 1}


def tiny_model() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def tiny_data(n: int = 40):
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(n, 1, 4, 4, generator=gen)
    with torch.no_grad():
        y = tiny_model()(x).argmax(1)
    y[::2] = torch.randint(0, 3, (n // 2,), generator=gen)  # some misclassified points
    return x, y


def run_eval(seed: int = 0, **kw) -> xr.Dataset:
    x, y = tiny_data()
    args = dict(shells=SHELLS, attack=ATTACK, adaptive=ADAPTIVE, n_batches=2, batch_size=3)
    return shells.evaluate(tiny_model(), x, y, **{**args, **kw}, seed=seed, device="cpu")


@pytest.fixture(scope="module")
def store() -> xr.Dataset:
    return run_eval()


def test_evaluate_layout(store):
    x, y = tiny_data()
    assert dict(store.sizes) == {"point": 6, "shell": 2, "channel": 1, "row": 4, "col": 4}
    assert list(store.shell.values) == ["mcn", "ncn"]
    assert list(store.shell_kind.values) == ["mcn", "ncn"]
    assert list(store.batch.values) == [0, 0, 0, 1, 1, 1]
    for name in (
        "label image base_pred base_conf base_adv_success base_adv base_adv_pred base_adv_linf "
        "shell_clean_pred shell_clean_conf shell_clean_feasible shell_clean_dist shell_clean_z "
        "shell_adv_pred shell_adv_conf shell_adv_z shell_adv_success shell_adv_changed "
        "adaptive_success adaptive_adv adaptive_pred adaptive_linf"
    ).split():
        assert name in store.data_vars and store[name].attrs["description"], name
    assert store.image.dims == ("point", "channel", "row", "col")
    assert store.shell_clean_z.dims == ("shell", "point", "channel", "row", "col")
    assert store.adaptive_success.dims == ("shell", "point")
    ti = store.test_index.values
    assert len(set(ti)) == 6
    np.testing.assert_array_equal(store.label.values, y.numpy()[ti])
    np.testing.assert_array_equal(store.base_pred.values, store.label.values)  # only correct
    np.testing.assert_allclose(store.image.values, x.numpy()[ti])
    with torch.no_grad():
        wrong = (tiny_model()(x).argmax(1) != y).numpy()
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0)).numpy()
    walked = perm[: store.attrs["n_walked"]]
    assert store.attrs["n_skipped"] == int(wrong[walked].sum()) > 0
    assert set(ti) == set(walked[~wrong[walked]])
    assert store.attrs["eps"] == ATTACK["eps"] and store.attrs["seed"] == 0
    assert (store.base_adv_linf.values <= ATTACK["eps"] + 1e-6).all()
    assert (store.adaptive_linf.values <= ATTACK["eps"] + 1e-6).all()
    assert store.shell_clean_feasible.sel(shell="mcn").values.all()
    # success = wrong prediction, and the adaptive attack includes the transfer point
    np.testing.assert_array_equal(
        store.base_adv_success.values, store.base_adv_pred.values != store.label.values
    )
    np.testing.assert_array_equal(
        store.adaptive_success.values, store.adaptive_pred.values != store.label.values[None]
    )
    assert (store.adaptive_success.values | ~store.shell_adv_success.values).all()


def test_evaluate_deterministic(store):
    xr.testing.assert_identical(store, run_eval())
    other = run_eval(seed=5)
    assert not np.array_equal(other.test_index.values, store.test_index.values)


def test_evaluate_with_extra_attacks_reports_the_worst_case():
    extra = {"apgd": {"steps": 2, "restarts": 1}, "square": {"queries": 3, "p_init": 0.3}}
    st = run_eval(extra=extra)
    base = run_eval()
    for a in ("apgd", "square"):
        for f in ("success", "adv", "pred", "linf", "steps"):
            assert f"{a}_{f}" in st and st[f"{a}_{f}"].attrs["description"]
        assert (st[f"{a}_linf"] <= st.attrs["eps"] + 1e-6).all()
    # the extra attacks leave everything else as it was
    for name in base.data_vars:
        xr.testing.assert_identical(st[name], base[name])
    worst = st.shell_adv_success | st.adaptive_success | st.apgd_success | st.square_success
    assert np.array_equal(st.worst_success.values, worst.values)
    assert json.loads(st.attrs["extra_attacks"]) == extra
    flags = shells.point_flags(st)
    assert np.array_equal(flags["mcn/worst_case_success_rate"], worst.sel(shell="mcn").values)
    assert "ncn/square_success_rate" in flags and "ncn/apgd_success_rate" in flags
    with pytest.raises(ValueError, match="p_init"):
        run_eval(extra={"square": {"queries": 3, "p_init": 2.0}})
    with pytest.raises(ValueError, match="unknown keys"):
        run_eval(extra={"apgd": {"steps": 2, "restarts": 1, "step": 0.1}})


def test_evaluate_errors():
    with pytest.raises(ValueError, match="correctly classified"):
        run_eval(n_batches=20, batch_size=3)
    with pytest.raises(ValueError, match="unknown keys"):
        run_eval(attack={**ATTACK, "norm": "l2"})
    with pytest.raises(ValueError, match="kind"):
        run_eval(shells={"x": {"kind": "vote"}})


# ----------------------------------------------------------------------------- (f) metrics


def hand_store(shift: int = 0) -> xr.Dataset:
    """4 points in 2 batches, shells "mcn" and "ncn", known flags."""
    label = np.array([0, 1, 2, 0])
    clean = np.array([[0, 1, 2, 1], [0, 1, 1, 0]])  # mcn wrong on point 3, ncn on point 2
    adv = np.array([[0, 2, 2, 1], [1, 1, 1, 0]])
    return xr.Dataset(
        {
            "label": ("point", label),
            "base_adv_success": ("point", np.array([True, True, False, bool(shift)])),
            "shell_clean_pred": (("shell", "point"), clean),
            "shell_adv_pred": (("shell", "point"), adv),
            "shell_clean_feasible": (
                ("shell", "point"),
                np.array([[1, 1, 1, 1], [1, 0, 0, 1]], bool),
            ),
            "adaptive_success": (("shell", "point"), np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)),
        },
        coords={
            "point": np.arange(4),
            "batch": ("point", [0, 0, 1, 1]),
            "shell": ["mcn", "ncn"],
            "shell_kind": ("shell", ["mcn", "ncn"]),
        },
        attrs={"n_skipped": 2 + shift},
    )


def test_shell_metrics_values():
    m = shells.shell_metrics([hand_store(0), hand_store(1)])
    assert set(m) == {
        "base_attack_success_rate",
        "mcn/transfer_success_rate",
        "mcn/changed_rate",
        "mcn/wrong_and_changed_rate",
        "mcn/adaptive_success_rate",
        "mcn/retained_accuracy",
        "ncn/transfer_success_rate",
        "ncn/changed_rate",
        "ncn/wrong_and_changed_rate",
        "ncn/adaptive_success_rate",
        "ncn/retained_accuracy",
        "ncn/infeasible_rate",
        "n_points",
        "n_skipped",
    }
    base = m["base_attack_success_rate"]
    assert base["per_batch"] == [[1.0, 0.0], [1.0, 0.5]]
    assert base["per_seed"] == [0.5, 0.75] and base["mean"] == pytest.approx(0.625)
    assert base["std"] == pytest.approx(np.std([0.5, 0.75], ddof=1)) and base["n_seeds"] == 2
    assert m["mcn/transfer_success_rate"]["per_batch"][0] == [0.5, 0.5]  # points 1, 3
    assert m["mcn/changed_rate"]["per_seed"][0] == pytest.approx(0.25)  # point 1
    assert m["mcn/retained_accuracy"]["per_batch"][0] == [1.0, 0.5]
    assert m["mcn/adaptive_success_rate"]["mean"] == pytest.approx(0.75)
    assert m["ncn/transfer_success_rate"]["per_batch"][0] == [0.5, 0.5]  # points 0, 2
    assert m["ncn/changed_rate"]["per_seed"][0] == pytest.approx(0.25)  # point 0
    assert m["ncn/retained_accuracy"]["mean"] == pytest.approx(0.75)
    assert m["ncn/infeasible_rate"]["per_batch"][0] == [0.5, 0.5]
    assert m["n_points"] == 4 and m["n_skipped"]["per_seed"] == [2.0, 3.0]
    # the paper's Table 1 success: wrong at x_adv and changed from x (a subset of wrong)
    assert m["mcn/wrong_and_changed_rate"]["per_batch"][0] == [0.5, 0.0]  # point 1
    assert m["ncn/wrong_and_changed_rate"]["per_batch"][0] == [0.5, 0.0]  # point 0
    # binomial intervals per batch and pooled over seeds (Wilson, scipy)
    from scipy import stats

    pooled = base["pooled"]  # 2 + 3 of 8 points over both seeds
    assert (pooled["k"], pooled["n"], pooled["rate"]) == (5, 8, 0.625)
    ci = stats.binomtest(5, 8).proportion_ci(0.95, method="wilson")
    assert pooled["ci"] == pytest.approx([ci.low, ci.high])
    assert pooled["ci"][0] < 0.625 < pooled["ci"][1]
    lo, hi = base["per_batch_ci"][1][1]  # seed 1, batch 1: 1 of 2
    assert lo < 0.5 < hi and (lo, hi) == pytest.approx(stats.binomtest(1, 2).proportion_ci(
        0.95, method="wilson"))  # fmt: skip
    assert len(base["per_batch_ci"]) == 2 and all(len(c) == 2 for c in base["per_batch_ci"])


def test_shell_metrics_on_evaluate_output(store):
    m = shells.shell_metrics([store])
    rate = m["mcn/adaptive_success_rate"]
    assert rate["n_seeds"] == 1 and len(rate["per_batch"][0]) == 2
    assert rate["mean"] >= m["mcn/transfer_success_rate"]["mean"]
    assert "mcn/infeasible_rate" not in m and "ncn/infeasible_rate" in m


# ----------------------------------------------------------------------------- (g) figures


def test_figures(store):
    other = run_eval(seed=1)
    fig = shell_plots.success_figure({"clean": [store, other], "linf_adv": [store]})
    assert isinstance(fig, Figure)
    for sh in ("mcn", "ncn"):
        fig = shell_plots.shell_gallery(store, sh, 3, class_names=["a", "b", "c"])
        assert isinstance(fig, Figure)
    assert isinstance(shell_plots.shell_gallery(store, "mcn", 2), Figure)
    with pytest.raises(ValueError, match="not in the store"):
        shell_plots.shell_gallery(store, "vote", 2)


def test_gallery_fallback_title():
    s = run_eval()
    right = s.label.values[None].repeat(2, 0)
    s = s.assign(
        shell_clean_pred=(("shell", "point"), right), shell_adv_pred=(("shell", "point"), right)
    )
    fig = shell_plots.shell_gallery(s, "mcn", 2)
    assert "showing the first points" in fig._suptitle.get_text()


def test_study_metrics_keys_each_base_under_its_dataset():
    runs = {"clean": [hand_store(0), hand_store(1)], "linf_adv": [hand_store(1)]}
    m = shells.study_metrics("mnist", runs)
    for base, stores in runs.items():
        for key, value in shells.shell_metrics(stores).items():
            assert m[f"shells/mnist-{base}/{key.replace('/', '_')}"] == value
    assert len(m) == 2 * len(shells.shell_metrics(runs["clean"]))
