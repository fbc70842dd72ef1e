import numpy as np
import pytest
import torch

from pipeline_lib.models import build_model, load_model, save_model
from pipeline_lib.tangents import tangent_bases
from pipeline_lib.training import (
    accuracy,
    reconstruction_errors,
    train_autoencoder,
    train_classifier,
)


@pytest.mark.parametrize(
    ("kind", "kwargs", "shape", "out"),
    [
        ("mlp_classifier", {}, (1, 28, 28), (10,)),
        ("small_convnet", {"n_classes": 2, "width": 8}, (3, 32, 32), (2,)),
        ("mlp_autoencoder", {"k": 16, "hidden": (64, 32)}, (1, 28, 28), (1, 28, 28)),
        ("vgg_autoencoder", {"k": 128, "width": 8}, (3, 32, 32), (3, 32, 32)),
        (
            "vgg_autoencoder",
            {"in_shape": (1, 28, 28), "k": 16, "width": 8},
            (1, 28, 28),
            (1, 28, 28),
        ),
    ],
)
def test_shapes_and_round_trip(tmp_path, kind, kwargs, shape, out):
    torch.manual_seed(0)
    if "in_shape" not in kwargs:
        kwargs = {**kwargs, "in_shape": shape}
    model = build_model(kind, **kwargs).eval()
    x = torch.rand(3, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (3, *out)
    if "autoencoder" in kind:
        assert y.min() >= 0 and y.max() <= 1
        assert model.encode(x).shape == (3, kwargs["k"])
    save_model(model, tmp_path / "m.pt", kind, kwargs, provenance={"a": 1})
    again = load_model(tmp_path / "m.pt")
    with torch.no_grad():
        torch.testing.assert_close(again(x), y)
    assert not again.training


def test_unknown_kind():
    with pytest.raises(ValueError, match="allowed"):
        build_model("resnet9000")


def _blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    x[y == 1, :, :14] += 0.6  # class 1: bright top half
    return x.clamp(0, 1), y


def test_classifier_learns_and_reports_epochs():
    x, y = _blobs()
    torch.manual_seed(0)
    model = build_model("mlp_classifier", n_classes=2)
    seen = []
    hist = train_classifier(
        model,
        x,
        y,
        epochs=3,
        lr=0.05,
        weight_decay=1e-4,
        batch_size=20,
        seed=0,
        on_epoch=lambda e, m, s: seen.append(e),
    )
    assert seen == [0, 1, 2, 3]
    assert hist["train_accuracy"][-1] > 0.95 and accuracy(model, x, y) > 0.95


def test_adversarial_training_trains_on_pgd_outputs(monkeypatch):
    """Wiring: every batch goes through PGD with the given settings and the model is
    fitted on what PGD returns (here a constant image with balanced labels)."""
    import pipeline_lib.training as tr
    from pipeline_lib.attacks import AttackResult

    calls = []

    def fake_pgd(model, xb, yb, **kw):
        calls.append((xb.shape[0], kw))
        z = torch.zeros_like(xb)
        return AttackResult(
            z,
            torch.zeros(len(xb), dtype=torch.bool),
            torch.full((len(xb),), -1),
            xb.flatten(1).norm(dim=1),
        )

    monkeypatch.setattr(tr, "pgd", fake_pgd)
    x, y = _blobs()
    adv = {"norm": "l2", "eps": 1.0, "step_size": 0.2, "steps": 3}
    torch.manual_seed(0)
    model = build_model("mlp_classifier", n_classes=2)
    train_classifier(
        model, x, y, epochs=2, lr=0.05, weight_decay=0, batch_size=50, seed=0, adversarial=adv
    )
    assert len(calls) == 2 * 4 and all(n == 50 for n, _ in calls)
    assert all(kw == {**adv, "early_stop": False} for _, kw in calls)
    # fitted on the constant image with balanced labels: 50/50 there
    with torch.no_grad():
        p = torch.softmax(model(torch.zeros(1, 1, 28, 28)), 1)[0]
    assert p[0].item() == pytest.approx(0.5, abs=0.05)


def test_divergence_names_model_and_epoch():
    x, y = _blobs(n=40)
    model = build_model("mlp_classifier", n_classes=2)
    with pytest.raises(FloatingPointError, match="clf-A diverged at epoch 1"):
        train_classifier(
            model,
            x * float("nan"),
            y,
            epochs=2,
            lr=0.1,
            weight_decay=0,
            batch_size=20,
            seed=0,
            name="clf-A",
        )


def test_autoencoder_reconstructs_and_has_tangent_bases():
    x, _ = _blobs(n=100)
    torch.manual_seed(0)
    ae = build_model("mlp_autoencoder", k=4, hidden=(64,))
    before = reconstruction_errors(ae, x)
    hist = train_autoencoder(ae, x, epochs=15, lr=3e-3, batch_size=20, seed=0)
    after = reconstruction_errors(ae, x)
    assert hist[-1] < hist[0]
    assert after["mse"].mean() < 0.5 * before["mse"].mean()
    np.testing.assert_allclose(after["l2"], np.sqrt(after["mse"] * 784), rtol=1e-5)
    with torch.no_grad():
        codes = ae.encode(x[:5])
    basis = tangent_bases(ae.decode, codes)
    assert basis.shape == (5, 4, 784)
