"""Known-answer tests of the natural-image DMM ablations (dmm/ablations.py, the
ablation registry and claims)."""

import copy

import numpy as np
import pytest
import torch
import xarray as xr

from pipeline_lib.studies.dmm import ablation_claims, ablation_registry
from pipeline_lib.studies.dmm import ablations as abl
from pipeline_lib.studies.dmm import experiment as dmm

CLF = {
    "kind": "mlp",
    "width": 8,
    "epochs": 3,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 16,
}


def tiny_dataset(n_train=90, n_test=30, classes=(0, 3, 5), seed=0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = np.asarray(classes)[np.arange(n) % len(classes)]
    img = 0.35 + 0.05 * rng.standard_normal((n, 1, 8, 8))
    for i, c in enumerate(labels):
        r = 2 * list(classes).index(c)
        img[i, 0, r : r + 3, 1:7] += 0.35
    return xr.Dataset(
        {
            "image": (("sample", "channel", "row", "col"), img.astype(np.float32)),
            "label": (("sample",), labels),
        },
        coords={
            "sample": np.arange(n),
            "split": ("sample", np.array(["train"] * n_train + ["test"] * n_test)),
            "class_index": ("class_index", np.asarray(classes)),
        },
    )


def test_manifold_projection_linear_decoder_finds_least_squares():
    """For D(z) = A z + b the nearest point's code is the least-squares solution."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 3, generator=gen)
    b = torch.randn(20, generator=gen)
    x = torch.randn(5, 20, generator=gen)
    z_star = torch.linalg.lstsq(a, (x - b).T).solution.T
    z, errs = abl.manifold_projection(lambda z: z @ a.T + b, x, torch.zeros(5, 3), 600, 0.05)
    assert torch.allclose(z, z_star, atol=1e-3)
    assert errs.shape == (601, 5)
    # never worse than the start, and the end is the least-squares residual
    assert (errs[-1] <= errs[0]).all()
    best = (z_star @ a.T + b - x).pow(2).sum(1)
    assert torch.allclose(errs[-1], best, rtol=1e-3, atol=1e-4)


def test_manifold_projection_zero_steps_is_identity():
    z0 = torch.ones(2, 3)
    z, errs = abl.manifold_projection(lambda z: z.repeat(1, 2), torch.zeros(2, 6), z0, 0, 0.1)
    assert torch.equal(z, z0)
    assert torch.allclose(errs[0], torch.full((2,), 6.0))


@pytest.mark.parametrize(
    "n_batches, points, expected",
    [
        (10, 10, list(range(1, 11))),
        (50, 10, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]),
        (6, 3, [2, 4, 6]),
        (2, 5, [1, 2]),
        (7, 1, [7]),
    ],
)
def test_subepoch_marks(n_batches, points, expected):
    assert abl.subepoch_marks(n_batches, points) == expected


def test_subepoch_classifier_matches_default_training():
    """Integer-epoch states equal fit_classifier's (same seeds, batches, SGD); the first
    epoch has the sub-epoch checkpoints in between."""
    ds = tiny_dataset()
    dev = torch.device("cpu")
    _, _, _, states, hist = dmm.fit_classifier(ds, CLF, "clean", 1, dev)
    _, kind, _, sub, times, h2 = abl.fit_classifier_subepoch(ds, CLF, 1, 3, dev)
    # 90 images / 16 = 6 batches: marks 2, 4 (and 6 = the end of epoch 1)
    assert times.tolist() == [0.0, 2 / 6, 4 / 6, 1.0, 2.0, 3.0]
    assert kind == "mlp_classifier"
    for e in range(4):
        j = times.tolist().index(float(e))
        for name, v in states[e].items():
            assert torch.equal(v, sub[j][name]), (e, name)
    assert np.allclose(h2.test_accuracy.values[[0, 3, 4, 5]], hist.test_accuracy.values)


class LinearAE(torch.nn.Module):
    """A linear autoencoder: decoder D(z) = A z + b, encoder a (biased) left inverse."""

    def __init__(self, n=64, k=3, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.dec = torch.nn.Linear(k, n)
        self.enc = torch.nn.Linear(n, k)
        with torch.no_grad():
            self.dec.weight.copy_(torch.randn(n, k, generator=g) / 4)
            self.dec.bias.fill_(0.4)
            self.enc.weight.copy_(torch.randn(k, n, generator=g) / 4)
            self.enc.bias.zero_()

    def encode(self, x):
        return self.enc(x.flatten(1))

    def decode(self, z):
        return self.dec(z).reshape(-1, 1, 8, 8)


def test_location_store_projected_point_is_nearest():
    """At the projected location the point is the orthogonal projection of x on the
    decoder's (affine) plane: never further than the reconstruction, and the residual is
    orthogonal to the tangent basis (the plane's directions)."""
    ds = tiny_dataset()
    ae = LinearAE()
    dev = torch.device("cpu")
    rec = abl.location_tangent_store(ds, ae, 7, dev, "reconstruction", {}, chunk=4)
    prj = abl.location_tangent_store(ds, ae, 7, dev, "projected", {"steps": 600, "lr": 0.05})
    assert rec.sizes["sample"] == prj.sizes["sample"] == 7
    assert np.allclose(rec.location_l2, rec.reconstruction_l2)
    assert (prj.location_l2.values <= rec.location_l2.values + 1e-5).all()
    resid = prj.image.values - prj.reconstruction.values
    along = np.einsum("nkf,nf->nk", prj.basis.values, resid)
    assert np.abs(along).max() < 1e-3 * np.abs(resid).max()
    # the plane's tangent space is the same everywhere
    assert np.allclose(
        np.abs(np.linalg.det(np.einsum("nkf,njf->nkj", rec.basis, prj.basis))), 1, atol=1e-4
    )
    assert prj.attrs["location"] == "projected" and "projection_sq_error" in prj


def _cfg(**abl_cfg):
    base = {
        "seeds": [0, 1],
        "k": [],
        "autoencoder_epochs": [],
        "locations": ["reconstruction"],
        "projection": {"steps": 10, "lr": 0.05},
        "archs": [],
        "first_epoch_points": 10,
        "classifier_epochs": 0,
    }
    base.update(abl_cfg)
    return {
        "dmm": {
            "datasets": ["fashion_mnist"],
            "ablations": base,
            "fashion_mnist": {
                "autoencoder": {"kind": "mlp", "k": 16, "epochs": 50},
                "classifier": {"epochs": 40},
            },
        }
    }


def test_registry_off_by_default_and_reuses_defaults():
    off = _cfg()
    assert ablation_registry.metric_files(off) == []
    assert ablation_registry.figures(off) == []
    assert ablation_claims.claims(off) == []
    cfg = _cfg(k=[8, 16], autoencoder_epochs=[10, 50], locations=["reconstruction", "projected"])
    st = ablation_registry.settings(cfg, "fashion_mnist")
    assert len(st) == 8
    ins = ablation_registry.summary_inputs(cfg, "fashion_mnist")
    # the default setting (k 16, 50 epochs, at the reconstruction) is the default run's
    i = st.index((16, 50, "reconstruction"))
    assert ins["tangents"][i] == "results/dmm/fashion_mnist/tangents.zarr"
    assert ins["autoencoders"][i] == "results/dmm/fashion_mnist/autoencoder.zarr"
    assert ins["attacks"][2 * i : 2 * i + 2] == [
        "results/dmm/fashion_mnist/clean/seed0/attacks.zarr",
        "results/dmm/fashion_mnist/clean/seed1/attacks.zarr",
    ]
    j = st.index((16, 50, "projected"))
    assert ins["autoencoders"][j] == "results/dmm/fashion_mnist/autoencoder.zarr"
    assert "ablations/manifold/k16-e50/projected" in ins["tangents"][j]
    assert [f.kind for f in ablation_registry.figures(cfg)] == ["manifold", "location"]
    ids = [c.id for c in ablation_claims.claims(cfg)]
    assert len(ids) == 3 * 8 and len(set(ids)) == len(ids)


def test_registry_training_length_defaults_to_dataset():
    cfg = _cfg(k=[8], archs=["convnet"])
    assert ablation_registry.settings(cfg, "fashion_mnist") == [(8, 50, "reconstruction")]
    assert ablation_registry.summary_inputs(cfg, "fashion_mnist")["distances"] == [
        f"results/dmm/fashion_mnist/ablations/boundary/convnet/seed{s}/distance.zarr"
        for s in (0, 1)
    ]
    claims = ablation_claims.claims(cfg)
    fig6 = [c for c in claims if ".fig6." in c.id]
    assert len(fig6) == 2
    # 40 epochs: the 'few' epoch is 4, as in the main Fig. 6 claims
    assert "epoch 4" in fig6[0].statement


def _distance_store(epochs, curve):
    d = np.asarray(curve, dtype=float)[:, None] * np.ones((1, 3))
    return xr.Dataset(
        {"distance": (("epoch", "sample"), d), "test_accuracy": (("epoch",), np.ones(len(d)))},
        coords={"epoch": np.asarray(epochs, dtype=float), "sample": np.arange(3)},
    )


def test_boundary_metrics_known_curve():
    runs = [
        _distance_store([0, 0.5, 1, 2], [4.0, 2.0, 1.0, 1.5]),
        _distance_store([0, 0.5, 1, 2], [2.0, 1.0, 1.0, 0.5]),
    ]
    m = abl.boundary_metrics("toy", {"mlp": runs})
    k = "dmm_ablation/toy-boundary_mlp"
    assert m[f"{k}/boundary_distance_initial"]["mean"] == pytest.approx(3.0)
    assert m[f"{k}/boundary_distance_first_epoch"]["per_seed"] == [1.0, 1.0]
    assert m[f"{k}/boundary_distance_min"]["per_seed"] == [1.0, 0.5]
    assert m[f"{k}/boundary_distance_curve"]["epoch"] == [0.0, 0.5, 1.0, 2.0]
    assert m[f"{k}/boundary_distance_curve"]["mean"] == pytest.approx([3.0, 1.5, 1.0, 1.0])
    assert m[f"{k}/checkpoints"] == 4


def test_claim_evidence_on_synthetic_stores(tmp_path):
    """The ablation claims' evidence reads the stores the rules write (per setting: the
    attack stores; per architecture: the distance stores)."""
    from pipeline_lib.ledger import EvidenceContext

    cfg = _cfg(k=[8], archs=["mlp"], classifier_epochs=10)
    claims = {c.id.split(".")[2]: c for c in ablation_claims.claims(copy.deepcopy(cfg))}
    n = 6
    attack = xr.Dataset(
        {
            "ratio": (("sample",), np.full(n, 5.0)),
            "ratio_random_subspace": (("sample",), np.full(n, 2.0)),
            "on_effect": (("sample",), np.full(n, 0.01)),
            "c_distance": (
                ("sample", "attack"),
                np.tile([1.0, 6.0, 1.0], (n, 1)),
            ),
        },
        coords={"attack": ["regular", "on", "off"]},
    )
    dist = _distance_store(np.r_[0, 0.5, np.arange(1, 11)], [4, 2, *[1.0] * 10])

    class Ctx(EvidenceContext):
        def store(self, path):
            return dist if "distance" in path else attack

    ctx = Ctx(metrics={}, config=cfg)
    ev = claims["norm_ratio_vs_random_subspace"].evidence(ctx)
    assert ev.paired and np.allclose(ev.ours - ev.control, 3.0) and len(ev.ours) == 2 * n
    assert np.allclose(claims["on_vs_off_distance"].evidence(ctx).ours, 6.0)
    fig6 = [c for c in ablation_claims.claims(cfg) if ".fig6." in c.id]
    drop, plateau = (c.evidence(ctx) for c in fig6)
    assert drop.ours == [0.25, 0.25] and drop.control == 1.0
    assert plateau.ours == [1.0, 1.0]


def test_ablation_draw_calls_the_declared_plot_functions():
    import inspect

    from pipeline_lib.studies.dmm import ablation_plots

    source = inspect.getsource(ablation_registry.draw)
    for kind, fn in ablation_registry.PLOTS.items():
        assert callable(getattr(ablation_plots, fn)), fn
        branch = source.split(f'kind == "{kind}"')[1].split("\n    if ")[0]
        assert f"ablation_plots.{fn}(" in branch, (kind, fn)
    cfg = _cfg(k=[8], archs=["mlp"], locations=["reconstruction", "projected"])
    figs = ablation_registry.figures(cfg)
    assert {f.kind for f in figs} == set(ablation_registry.PLOTS)
    assert all(f.rule == ablation_registry.RULE for f in figs)


def test_default_figure_script_does_not_import_the_ablation_registry():
    """An edit to the ablations' registry must not rerun the default DMM figures: the
    figure script's import closure (its code digest) leaves it out, while the studies'
    composition still lists the ablation figures."""
    from pipeline_lib.codedigest import imported_modules
    from pipeline_lib.studies import registries

    closure = imported_modules("scripts/figure_dmm.py")
    assert "pipeline_lib.studies.dmm.registry" in closure
    assert "pipeline_lib.studies.dmm.ablation_registry" not in closure
    assert ablation_registry in registries("dmm")
