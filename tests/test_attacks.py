import numpy as np
import pytest
import torch

from pipeline_lib.attacks import (
    margin_and_grad,
    margin_loss,
    min_distance,
    pgd,
    subspace_projector,
)


class Linear2(torch.nn.Module):
    """Two-class logits (0, w.x + b): the boundary is the hyperplane w.x + b = 0."""

    def __init__(self, w, b):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.as_tensor(b, dtype=torch.float64))

    def forward(self, x):
        z = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(z), z], 1)


def _setup(n=64, dim=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, generator=g, dtype=torch.float64)
    model = Linear2(w, 0.0)
    x = 0.3 + 0.4 * torch.rand(n, dim, generator=g, dtype=torch.float64)
    with torch.no_grad():
        model.b.fill_(-float((x @ w).median()))
        dist = (x @ model.w + model.b).abs() / model.w.norm()
        x, dist = x[dist > 0.02], dist[dist > 0.02]  # no point (almost) on the boundary
        y = model(x).argmax(1)
    return model, x, y, dist


def test_margin_loss():
    z = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    y = torch.tensor([0, 1])
    np.testing.assert_allclose(margin_loss(z, y), [-1.0, -4.0])
    t = torch.tensor([2, 2])
    np.testing.assert_allclose(margin_loss(z, y, t), [-1.0, -4.0])
    np.testing.assert_allclose(margin_loss(z, torch.tensor([2, 0])), [1.0, 5.0])


@pytest.mark.parametrize("targeted", [False, True])
def test_margin_gradient_written_down_equals_autograd(targeted):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 10, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 10, (200,), generator=g)
    t = (y + torch.randint(1, 10, (200,), generator=g)) % 10 if targeted else None
    ref = margin_loss(z, y, t)
    (ref_grad,) = torch.autograd.grad(ref.sum(), z)
    loss, grad = margin_and_grad(z, y, t)
    np.testing.assert_array_equal(loss, ref.detach())
    np.testing.assert_array_equal(grad, ref_grad)
    assert not loss.requires_grad and not grad.requires_grad


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_invariants_ball_and_box(norm):
    model, x, y, _ = _setup()
    eps = 0.5 if norm == "l2" else 0.1
    res = pgd(
        model,
        x,
        y,
        norm=norm,
        eps=eps,
        step_size=eps / 5,
        steps=20,
        random_start=True,
        generator=torch.Generator().manual_seed(0),
    )
    d = (res.x_adv - x).flatten(1)
    n = d.norm(dim=1) if norm == "l2" else d.abs().amax(1)
    assert (n <= eps + 1e-9).all()
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    np.testing.assert_allclose(res.norm, n)


def test_l2_success_exactly_beyond_the_distance():
    model, x, y, dist = _setup()
    res = pgd(model, x, y, norm="l2", eps=dist * 1.05, step_size=dist * 0.06, steps=40)
    assert res.success.all()
    res = pgd(model, x, y, norm="l2", eps=dist * 0.95, step_size=dist * 0.06, steps=40)
    assert not res.success.any()
    assert (res.steps == -1).all()


def test_linf_distance_of_a_linear_model():
    model, x, y, _ = _setup()
    with torch.no_grad():
        dinf = (x @ model.w + model.b).abs() / model.w.abs().sum()
    ok = pgd(model, x, y, norm="linf", eps=dinf * 1.05, step_size=dinf * 0.1, steps=40)
    ko = pgd(model, x, y, norm="linf", eps=dinf * 0.95, step_size=dinf * 0.1, steps=40)
    assert ok.success.all() and not ko.success.any()


def test_early_stop_stops_each_sample_at_its_first_success():
    model, x, y, dist = _setup()
    step = float(dist.max()) / 10
    greedy = pgd(model, x, y, eps=10.0, step_size=step, steps=30, early_stop=True)
    full = pgd(model, x, y, eps=10.0, step_size=step, steps=30, early_stop=False)
    assert greedy.success.all() and full.success.all()
    # a greedy sample stops after ceil(dist/step) steps, never walking further
    np.testing.assert_array_equal(greedy.steps, torch.ceil(dist / step).long())
    assert (greedy.norm < full.norm).all()
    np.testing.assert_allclose(greedy.norm, greedy.steps.double() * step, rtol=1e-9)


def test_targeted():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    x = torch.rand(32, 8)
    with torch.no_grad():
        y = model(x).argmax(1)
    target = (y + 1) % 4
    res = pgd(model, x, y, eps=50.0, step_size=0.05, steps=400, target=target, box=(-10, 10))
    with torch.no_grad():
        pred = model(res.x_adv).argmax(1)
    assert res.success.float().mean() > 0.9
    assert (pred[res.success] == target[res.success]).all()


@pytest.mark.parametrize("mode", ["on", "off"])
def test_projection_hook_keeps_perturbation_in_subspace(mode):
    model, x, y, _ = _setup(dim=10)
    g = torch.Generator().manual_seed(3)
    basis = torch.linalg.qr(torch.randn(x.shape[0], 10, 3, generator=g, dtype=torch.float64))[0]
    basis = basis.transpose(1, 2)  # (N, k=3, n=10) orthonormal rows
    res = pgd(
        model,
        x,
        y,
        eps=0.2,
        step_size=0.02,
        steps=10,
        early_stop=False,
        project=subspace_projector(basis, mode),
    )
    d = res.x_adv - x
    comp = torch.einsum("nkf,nf->nk", basis, d)
    on_norm = comp.norm(dim=1)
    if mode == "on":
        np.testing.assert_allclose(on_norm, d.norm(dim=1), rtol=1e-9)
    else:
        np.testing.assert_allclose(on_norm, 0, atol=1e-12)
    assert (d.norm(dim=1) > 0).all()


def test_random_start_is_seeded():
    model, x, y, _ = _setup()
    kw = dict(eps=0.3, step_size=0.03, steps=3, random_start=True, early_stop=False)
    a = pgd(model, x, y, generator=torch.Generator().manual_seed(1), **kw).x_adv
    b = pgd(model, x, y, generator=torch.Generator().manual_seed(1), **kw).x_adv
    c = pgd(model, x, y, generator=torch.Generator().manual_seed(2), **kw).x_adv
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_min_distance_matches_the_closed_form():
    model, x, y, dist = _setup()
    est = min_distance(model, x, y, eps_max=5.0, rel_step=0.02, steps=80, bisections=12)
    assert torch.isfinite(est).all()
    assert (est >= dist - 1e-9).all()  # an adversarial example is never closer than the boundary
    np.testing.assert_allclose(est, dist, rtol=0.03)
    far = min_distance(model, x, y, eps_max=float(dist.min()) * 0.5, steps=20)
    assert torch.isinf(far).all()


def test_bad_arguments():
    model, x, y, _ = _setup(n=4)
    with pytest.raises(ValueError, match="norm"):
        pgd(model, x, y, norm="l1", eps=1.0, step_size=0.1, steps=1)
    with pytest.raises(ValueError, match="step_size"):
        pgd(model, x, y, eps=1.0, step_size=0.0, steps=1)
    with pytest.raises(ValueError, match="mode"):
        subspace_projector(torch.zeros(4, 1, 10), "sideways")


def test_pgd_cross_entropy_loss_is_madrys_and_succeeds_like_margin():
    """loss="cross_entropy": the step follows the gradient of the cross-entropy (checked
    against autograd), success is still a positive margin, and on a linear model (where
    both losses' input gradients point the same way for two classes) it matches the
    margin attack."""
    from pipeline_lib.attacks import cross_entropy_grad

    torch.manual_seed(0)
    logits = torch.randn(5, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0])
    t = torch.tensor([1, 2, 3, 0, 2])
    (g_u,) = torch.autograd.grad(
        torch.nn.functional.cross_entropy(logits, y, reduction="sum"), logits
    )
    (g_t,) = torch.autograd.grad(
        -torch.nn.functional.cross_entropy(logits, t, reduction="sum"), logits
    )
    torch.testing.assert_close(cross_entropy_grad(logits.detach(), y), g_u)
    torch.testing.assert_close(cross_entropy_grad(logits.detach(), y, t), g_t)

    lin = torch.nn.Linear(6, 2)
    x = torch.rand(8, 6)
    y2 = lin(x).argmax(1)
    kw = dict(norm="l2", eps=5.0, step_size=0.05, steps=200, box=(-10.0, 10.0))
    a = pgd(lin, x, y2, loss="cross_entropy", **kw)
    b = pgd(lin, x, y2, **kw)
    assert a.success.all() and b.success.all()
    torch.testing.assert_close(a.norm, b.norm)  # two classes: the same direction
    with pytest.raises(ValueError, match="loss must be"):
        pgd(lin, x, y2, loss="hinge", **kw)
