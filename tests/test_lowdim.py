import numpy as np
import pytest
import torch

from pipeline_lib.studies.lowdim.experiment import (
    TwoLayerNet,
    evaluate_grid,
    input_gradients,
    l2_single_step,
    load_model,
    measure_snapshot,
    random_labels,
    run_experiment,
    train,
)
from pipeline_lib.studies.lowdim.synthetic import make_lowdim_dataset


def test_output_layer_is_fixed_random_signs():
    net = TwoLayerNet(3, 500, "sign", seed=1)
    u = net.out_weight.clone()
    assert set(u.unique().tolist()) == {-1.0, 1.0}
    assert 150 < (u > 0).sum() < 350
    assert all(p is not net.out_weight for p in net.parameters())
    assert [n for n, _ in net.named_parameters()] == ["hidden.weight", "hidden.bias"]
    w0 = net.hidden.weight.detach().clone()
    x = torch.rand(40, 3)
    y = (x[:, 0] > 0.5).long()
    train(net, x, y, epochs=3, lr=1e-3, weight_decay=0.01, batch_size=8, seed=0)
    assert torch.equal(net.out_weight, u)
    assert not torch.equal(net.hidden.weight, w0)
    uni = TwoLayerNet(3, 500, "uniform", seed=1).out_weight
    assert uni.abs().max() <= 1 and len(uni.unique()) > 400


def test_default_init_bounds_and_seed():
    a, b = TwoLayerNet(2, 100, seed=5), TwoLayerNet(2, 100, seed=5)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert a.hidden.weight.abs().max() <= 1 / np.sqrt(2)
    assert not torch.equal(a.hidden.weight, TwoLayerNet(2, 100, seed=6).hidden.weight)


def test_training_fits_separable_data():
    torch.manual_seed(0)
    x = torch.rand(200, 2)
    y = (x[:, 0] > 0.5).long()
    net = TwoLayerNet(2, 400, seed=0)
    h = train(net, x, y, epochs=60, lr=2e-3, weight_decay=0.0, batch_size=20, seed=0)
    assert h["accuracy"][-1] > 0.9
    assert h["loss"][-1] < h["loss"][0]


def test_divergence_is_reported():
    x = torch.rand(50, 2)
    y = (x[:, 0] > 0.5).long()
    net = TwoLayerNet(2, 4000, seed=0)
    with torch.no_grad():
        net.hidden.weight.mul_(1e38)
    with pytest.raises(FloatingPointError, match="epoch"):
        train(net, x, y, epochs=2, lr=1.0, weight_decay=0, batch_size=10, seed=0)


def test_gradients_match_finite_differences():
    net = TwoLayerNet(3, 50, seed=2).double()
    pts = np.random.default_rng(0).random((5, 3))
    g = input_gradients(net, pts)
    h = 1e-6
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        with torch.no_grad():
            fd = (net(torch.tensor(pts + e)) - net(torch.tensor(pts - e))).numpy() / (2 * h)
        np.testing.assert_allclose(g[:, i], fd, rtol=1e-4, atol=1e-6)


def test_gradients_equal_per_point_torch_func():
    """The summed-logit backward pass gives each point its own gradient, bitwise what
    torch.func's per-point vmap(grad) gives (float32, as the workflow trains)."""
    from torch.func import grad, vmap

    net = TwoLayerNet(3, 400, seed=1)
    pts = np.random.default_rng(1).random((64, 3))
    ref = vmap(grad(lambda p: net(p[None])[0]))(torch.as_tensor(pts, dtype=torch.float32))
    np.testing.assert_array_equal(input_gradients(net, pts), ref.detach().numpy())


def test_single_step_attack_stays_in_ball_and_box():
    net = TwoLayerNet(2, 50, seed=0)
    x = torch.rand(30, 2)
    y = (torch.rand(30) > 0.5).float()
    xa = l2_single_step(net, x, y, 0.1)
    assert (xa >= 0).all() and (xa <= 1).all()
    assert ((xa - x).norm(dim=1) <= 0.1 + 1e-6).all()


def _plane_net(height: float) -> TwoLayerNet:
    """logit = relu(z - h) - relu(h - z) = z - h: the boundary is the plane z = h."""
    net = TwoLayerNet(3, 2, seed=0)
    with torch.no_grad():
        net.hidden.weight.copy_(torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]))
        net.hidden.bias.copy_(torch.tensor([-height, height]))
        net.out_weight.copy_(torch.tensor([1.0, -1.0]))
    return net


def test_boundary_measurements_known_answer():
    data = make_lowdim_dataset("plane", 4, 3, 3, 0.01, 0.1, 7, 0)
    net = _plane_net(0.3)
    train_x = data.x.values[data.split.values == "train"].astype(np.float64)
    s = measure_snapshot(net, data, train_x, res=21, offsets=np.linspace(-0.5, 0.5, 201))
    n = data.normal_basis.values[0]
    # boundary point = probe + offset * n must have z = 0.3
    z = data.probe_x.values[:, 2] + s["probe_normal_offset"] * n[2]
    np.testing.assert_allclose(z, 0.3, atol=1e-5)
    np.testing.assert_allclose(s["probe_distance"], 0.2, atol=1e-5)
    np.testing.assert_allclose(s["train_distance"], 0.2, atol=1e-5)
    np.testing.assert_allclose(s["gradient_angle"], 90.0, atol=1e-4)
    grid = evaluate_grid(net, 3, 11)
    np.testing.assert_allclose(grid[2, 7, :], np.linspace(0, 1, 11) - 0.3, atol=1e-6)


def test_random_labels_are_seeded_coin_flips():
    a, b = random_labels(1000, 0), random_labels(1000, 0)
    np.testing.assert_array_equal(a, b)
    assert 400 < a.sum() < 600
    assert not np.array_equal(a, random_labels(1000, 1))


@pytest.mark.parametrize("variant", ["clean", "adversarial", "random_labels"])
def test_run_experiment_and_checkpoint(tmp_path, variant):
    data = make_lowdim_dataset("line", 4, 4, 4, 0.01, 0.1, 9, 0)
    kw = dict(
        variant=variant,
        seed=0,
        hidden=64,
        output_weights="sign",
        epochs=4,
        lr=5e-3,
        weight_decay=0.01,
        batch_size=8,
        adversarial_eps=0.1,
        snapshot_epochs=[0, 2, 4],
        res=21,
        normal_steps=41,
        device=torch.device("cpu"),
        log=lambda s: None,
    )
    ds, ckpt = run_experiment(data, **kw)
    assert list(ds.epoch.values) == [0, 2, 4]
    assert ds.grid_logit.dims == ("epoch", "grid_0", "grid_1")
    assert ds.sizes["train_sample"] == 16 and ds.sizes["probe"] == 9
    assert np.all(np.isfinite(ds.loss.values))
    if variant == "random_labels":
        assert not np.array_equal(ds.train_label.values, ds.true_label.values)
    else:
        np.testing.assert_array_equal(ds.train_label.values, ds.true_label.values)
    again, _ = run_experiment(data, **kw)
    np.testing.assert_array_equal(ds.grid_logit.values, again.grid_logit.values)
    torch.save(ckpt, tmp_path / "m.pt")
    model = load_model(tmp_path / "m.pt")
    pts = torch.rand(10, 2)
    with torch.no_grad():
        logit = model(pts)
    assert logit.shape == (10,)
    early = load_model(tmp_path / "m.pt", epoch=0)
    assert not torch.equal(early.hidden.weight, model.hidden.weight)


def test_fast_evaluation_equals_forward():
    net = TwoLayerNet(3, 300, seed=4)
    pts = np.random.default_rng(1).random((2, 1000, 3)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.as_tensor(pts.reshape(-1, 3))).numpy().reshape(2, 1000)
    from pipeline_lib.studies.lowdim.experiment import evaluate

    for chunk in (None, 7, 5000):
        np.testing.assert_allclose(evaluate(net, pts, chunk=chunk), ref, rtol=1e-5, atol=1e-5)
    wrapped = torch.nn.Sequential(net)  # any other module goes through forward
    np.testing.assert_allclose(evaluate(wrapped, pts, chunk=64), ref, rtol=1e-5, atol=1e-5)
