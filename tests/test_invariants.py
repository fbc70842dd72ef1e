"""Attacks and analyses check their own invariants (eps-ball, [0, 1] box, orthonormal
bases, finite values) and fail loudly when one breaks."""

import pytest
import torch
from torch import nn

from pipeline_lib import attacks, tangents
from pipeline_lib.invariants import (
    InvariantError,
    check_ball,
    check_box,
    check_finite,
    check_orthonormal,
)
from pipeline_lib.studies.shells import experiment as shells


def _model(seed=0, n_in=12, n_out=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, 16), nn.Tanh(), nn.Linear(16, n_out))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 3, 4, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    return x, y


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_check_ball(norm):
    x = torch.zeros(4, 5)
    inside = x.clone()
    inside[:, 0] = 0.5
    check_ball(inside, x, 0.5, norm, "t")
    outside = inside.clone()
    outside[2, 1] = 0.5  # l2 norm 0.707, linf 0.5 + ...
    outside[2, 0] = 0.6
    with pytest.raises(
        InvariantError, match=rf"t: perturbation leaves the {norm} eps-ball for samples \[2\]"
    ):
        check_ball(outside, x, 0.5, norm, "t")
    per_sample = torch.tensor([0.5, 0.5, 1.0, 0.5])
    check_ball(outside, x, per_sample, norm, "t")
    nan = inside.clone()
    nan[1, 3] = float("nan")
    with pytest.raises(InvariantError, match=r"non-finite values for samples \[1\]"):
        check_ball(nan, x, 0.5, norm, "t")


def test_check_box():
    x = torch.rand(5, 2, 3)
    check_box(x, 0.0, 1.0, "imgs")
    x[3, 1, 2] = 1.01
    with pytest.raises(
        InvariantError, match=r"imgs: values outside the \[0.0, 1.0\] box for samples \[3\]"
    ):
        check_box(x, 0.0, 1.0, "imgs")
    x[3, 1, 2] = -0.2
    with pytest.raises(InvariantError, match=r"samples \[3\]"):
        check_box(x, 0.0, 1.0, "imgs")


def test_check_orthonormal_rows_and_columns():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 30, 4, generator=g))  # columns orthonormal
    check_orthonormal(q, "cols", rows=False)
    check_orthonormal(q.transpose(1, 2), "rows")
    check_orthonormal(q[0], "one", rows=False)  # a single (n, k) basis
    check_orthonormal(q[:, :, :0], "empty", rows=False)  # rank 0 is fine
    bad = q.clone()
    bad[4, :, 1] *= 1.01  # not unit length
    with pytest.raises(InvariantError, match=r"cols: basis is not orthonormal for samples \[4\]"):
        check_orthonormal(bad, "cols", rows=False)
    nan = q.clone()
    nan[3, 7, 2] = float("nan")  # a NaN makes the Gram matrix non-finite: flagged
    with pytest.raises(InvariantError, match=r"samples \[3\]"):
        check_orthonormal(nan, "cols", rows=False)
    skew = q.clone()
    skew[2, :, 0] += 0.05 * skew[2, :, 1]  # not orthogonal
    with pytest.raises(InvariantError, match=r"samples \[2\]"):
        check_orthonormal(skew, "cols", rows=False)


def test_check_finite():
    check_finite(torch.ones(3, 2), "ok")
    t = torch.ones(3, 2)
    t[1, 0] = float("inf")
    with pytest.raises(InvariantError, match=r"grads: non-finite values for samples \[1\]"):
        check_finite(t, "grads")


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_fails_loudly_when_its_projection_breaks(monkeypatch, batch, norm):
    x, y = batch
    model = _model()
    res = attacks.pgd(model, x, y, norm=norm, eps=0.3, step_size=0.2, steps=5, early_stop=False)
    assert (attacks.per_sample_norm(res.x_adv - x, norm) <= 0.3 + 1e-6).all()
    # the loop's projection, broken: the iterate is only clamped to the box
    monkeypatch.setattr(attacks, "_back_into_ball", lambda v, x, eps, norm, lo, hi: v.clamp(lo, hi))
    with pytest.raises(
        InvariantError, match=rf"{norm} PGD: perturbation leaves the {norm} eps-ball"
    ):
        attacks.pgd(model, x, y, norm=norm, eps=0.3, step_size=0.2, steps=5, early_stop=False)


def test_pgd_refuses_inputs_outside_the_box(batch):
    x, y = batch
    model = _model()
    x = x.clone()
    x[5] += 1.0  # sample 5 lies outside [0, 1]: clamping it back leaves the eps-ball
    with pytest.raises(InvariantError, match=r"leaves the linf eps-ball for samples \[5\]"):
        attacks.pgd(model, x, y, norm="linf", eps=0.3, step_size=0.1, steps=2, early_stop=False)


def test_tangent_basis_is_checked(monkeypatch):
    dec = nn.Sequential(nn.Linear(3, 20), nn.Tanh(), nn.Linear(20, 20))
    codes = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    basis = tangents.tangent_bases(dec, codes)
    assert basis.shape == (4, 3, 20)
    # a "QR" that returns the Jacobian itself: not orthonormal, must not pass silently
    monkeypatch.setattr(
        tangents.torch.linalg,
        "qr",
        lambda j: (j, torch.eye(j.shape[-1]).expand(j.shape[0], -1, -1)),
    )
    with pytest.raises(InvariantError, match="tangent basis .* not orthonormal"):
        tangents.tangent_bases(dec, codes)


def test_mcn_search_checks_its_ball(monkeypatch, batch):
    x, _ = batch
    model = _model()
    z, _ = shells.mcn_search(model, x, delta=0.1, norm="linf", steps=3, step_size=0.05)
    assert ((z - x[:, None]).abs().flatten(2).amax(2) <= 0.1 + 1e-6).all()
    monkeypatch.setattr(shells, "_project_ball", lambda d, eps, norm: d)
    with pytest.raises(InvariantError, match=r"MCN search \(linf\): perturbation leaves"):
        shells.mcn_search(model, x, delta=0.1, norm="linf", steps=3, step_size=0.08)
