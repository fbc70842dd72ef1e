"""Known-answer tests of the low-dim controls: the per-cluster random labels, the walls
baseline, the measures that separate clinging from walls, the training losses and the
App. C sensitivity ablation (settings, summary, metrics, claims)."""

import math

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import ROOT

from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.studies.lowdim import claims as lowdim_claims
from pipeline_lib.studies.lowdim import registry
from pipeline_lib.studies.lowdim.experiment import (
    LOSSES,
    loss_fn,
    random_cluster_labels,
    run_experiment,
)
from pipeline_lib.studies.lowdim.metrics import (
    REACH,
    ablation_metrics,
    offset_histogram,
    offset_quantiles,
    quantile_key,
    share_key,
    share_within,
    summarize_ablation,
)
from pipeline_lib.studies.lowdim.synthetic import cluster_centres, make_lowdim_dataset
from pipeline_lib.studies.lowdim.walls import WallsModel, walls_experiment, walls_from_data

# ---------------------------------------------------------------- random labels per cluster


def test_random_cluster_labels_one_class_per_cluster_balanced_and_seeded():
    _, centre_labels = cluster_centres(2, 6, 0.1)  # 36 clusters, chessboard: 18 + 18
    cluster = np.repeat(np.arange(36), 5)
    a = random_cluster_labels(cluster, centre_labels, seed=0)
    assert a.dtype == np.int8 and a.shape == cluster.shape
    per_cluster = a.reshape(36, 5)
    assert np.all(per_cluster == per_cluster[:, :1])  # one label per cluster
    assert per_cluster[:, 0].sum() == centre_labels.sum() == 18  # balanced: a permutation
    np.testing.assert_array_equal(a, random_cluster_labels(cluster, centre_labels, seed=0))
    b = random_cluster_labels(cluster, centre_labels, seed=1)
    assert not np.array_equal(a, b)
    # not simply the true chessboard labels
    assert not np.array_equal(per_cluster[:, 0], centre_labels)


def _tiny_run(data, variant: str, res: int = 11, normal_steps: int = 21):
    """One epoch of a small network on ``data`` (snapshots at init and after it)."""
    ds, _ = run_experiment(
        data,
        variant=variant,
        seed=0,
        hidden=32,
        output_weights="sign",
        epochs=1,
        lr=1e-3,
        weight_decay=0.0,
        batch_size=8,
        adversarial_eps=None,
        snapshot_epochs=[0, 1],
        res=res,
        normal_steps=normal_steps,
        device=torch.device("cpu"),
        log=lambda s: None,
    )
    return ds


def test_run_experiment_random_clusters_variant():
    data = make_lowdim_dataset("line", 6, 4, 2, 0.01, 0.1, 9, 0)
    ds = _tiny_run(data, "random_clusters")
    cluster = data.cluster_id.values[data.split.values == "train"]
    y = ds.train_label.values
    for c in np.unique(cluster):
        assert len(np.unique(y[cluster == c])) == 1
    assert y.sum() == ds.true_label.values.sum()  # same class balance as the true labels
    assert not np.array_equal(y, ds.true_label.values)
    with pytest.raises(ValueError, match="unknown variant"):
        _tiny_run(data, "walls")


# ---------------------------------------------------------------- separation measures

OFFSETS = np.array([[0.01, -0.03, 0.2, np.nan], [-0.6, np.nan, np.nan, np.nan]])


def test_share_within_counts_nan_as_not_within():
    s = share_within(OFFSETS, [0.02, 0.05, 0.3])
    np.testing.assert_allclose(s, [[0.25, 0.5, 0.75], [0.0, 0.0, 0.0]])
    # a bound equal to |offset| counts as within
    np.testing.assert_allclose(share_within(np.array([0.05, -0.05]), [0.05]), [1.0])


def test_offset_quantiles_censor_at_reach():
    assert REACH == 0.5
    q = offset_quantiles(OFFSETS, [0.0, 0.5, 1.0])
    # row 0: |offsets| 0.01, 0.03, 0.2, and NaN -> 0.5
    np.testing.assert_allclose(q[0], [0.01, (0.03 + 0.2) / 2, 0.5])
    # row 1: 0.6 clipped to the reach, every NaN at the reach
    np.testing.assert_allclose(q[1], [0.5, 0.5, 0.5])
    assert q.shape == (2, 3)


def test_offset_histogram_shares_of_all_probes():
    edges = np.array([-0.5, -0.1, 0.0, 0.1, 0.5])
    h = offset_histogram(OFFSETS, edges)
    # row 0: -0.03 in (-0.1, 0], 0.01 in (0, 0.1], 0.2 in (0.1, 0.5]; NaN in no bin
    np.testing.assert_allclose(h[0], [0.0, 0.25, 0.25, 0.25])
    # row 1: -0.6 outside the edges, the rest NaN: no bin
    np.testing.assert_allclose(h[1], [0.0, 0.0, 0.0, 0.0])
    assert h.sum(axis=-1)[0] == pytest.approx(0.75)


def test_metric_key_names():
    assert share_key(0.05) == "share_within_0.05"
    assert share_key(0.1) == "share_within_0.1"
    assert quantile_key(0.5) == "normal_offset_q50"
    assert quantile_key(0.1) == "normal_offset_q10"
    assert quantile_key(0.9) == "normal_offset_q90"


# ---------------------------------------------------------------- walls baseline


def _line_walls():
    # line y = 0.5, centres at x = 0.2, 0.4, 0.6, 0.8 with labels 0, 1, 0, 1
    centres = np.array([[0.2, 0.5], [0.4, 0.5], [0.6, 0.5], [0.8, 0.5]])
    return WallsModel(centres, np.array([0, 1, 0, 1]), [0.0, 0.5], [[1.0, 0.0]])


def test_walls_flip_only_at_midpoints_and_ignore_the_normal():
    model = _line_walls()
    xs = np.linspace(0.0, 1.0, 1001)
    with torch.no_grad():
        logit = model(torch.as_tensor(np.stack([xs, np.full_like(xs, 0.5)], 1))).numpy()
        # constant along the normal: any height gives the same logit
        for y in (0.0, 0.13, 0.99):
            other = model(torch.as_tensor(np.stack([xs, np.full_like(xs, y)], 1))).numpy()
            np.testing.assert_allclose(other, logit, atol=1e-12)
    nz = np.abs(logit) > 1e-9  # skip the points exactly on a wall
    x, s = xs[nz], np.sign(logit[nz])
    flip = s[:-1] != s[1:]
    flips = (x[:-1][flip] + x[1:][flip]) / 2
    np.testing.assert_allclose(flips, [0.3, 0.5, 0.7], atol=1.5e-3)
    # the class of the nearest centre: 0.1 -> class 0 (negative), 0.45 -> class 1
    assert logit[100] < 0 and logit[450] > 0 and logit[650] < 0 and logit[900] > 0
    with pytest.raises(ValueError, match="both classes"):
        WallsModel(np.zeros((2, 2)), np.array([1, 1]), [0.0, 0.5], [[1.0, 0.0]])


def test_walls_tilted_manifold_uses_tangent_coordinates():
    t = np.array([[1.0, 1.0]]) / math.sqrt(2)
    centres = np.array([[0.25, 0.25], [0.75, 0.75]])
    model = WallsModel(centres, np.array([0, 1]), [0.0, 0.0], t)
    n = np.array([1.0, -1.0]) / math.sqrt(2)
    pts = np.array([[0.5, 0.5], [0.4, 0.4], [0.6, 0.6]])
    with torch.no_grad():
        base = model(torch.as_tensor(pts)).numpy()
        moved = model(torch.as_tensor(pts + 0.2 * n)).numpy()
    np.testing.assert_allclose(moved, base, atol=1e-12)
    assert base[0] == pytest.approx(0.0) and base[1] < 0 < base[2]


def test_walls_experiment_known_distances():
    data = make_lowdim_dataset("line", 4, 3, 2, 0.01, 0.1, 9, 0)
    np.testing.assert_allclose(walls_from_data(data).c1.numpy().ravel(), [0.4, 0.8])
    w = walls_experiment(data, res=41, normal_steps=61)
    # probes x = 0.1 .. 0.9 step 0.1; walls at 0.3, 0.5, 0.7 (perpendicular to the line)
    np.testing.assert_allclose(
        w.probe_distance.values, [0.2, 0.1, 0, 0.1, 0, 0.1, 0, 0.1, 0.2], atol=1e-6
    )
    # a normal line never crosses a wall perpendicular to the manifold
    assert np.isnan(w.probe_normal_offset.values).all()
    np.testing.assert_allclose(w.gradient_angle.values, 0.0, atol=1e-6)  # along the manifold
    assert w.attrs["variant"] == "walls"
    assert share_within(w.probe_normal_offset.values, [0.05])[0] == 0.0


# ---------------------------------------------------------------- losses


def test_loss_values_known_answers():
    z = torch.tensor([0.0, 2.0, 0.5, -1.0])
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    bce = loss_fn("bce", "none")(z, y).numpy()
    np.testing.assert_allclose(
        bce,
        [
            math.log(2),
            math.log1p(math.exp(-2)),
            math.log1p(math.exp(0.5)),
            math.log1p(math.exp(-1)),
        ],
        rtol=1e-6,
    )
    sig = 1 / (1 + np.exp(-z.numpy()))
    np.testing.assert_allclose(
        loss_fn("mse")(z, y).item(), np.mean((sig - y.numpy()) ** 2), rtol=1e-6
    )
    assert loss_fn("mse")(torch.tensor([0.0]), torch.tensor([1.0])).item() == pytest.approx(0.25)
    # hinge on +-1 labels: max(0, 1 - s z) with s = +1, +1, -1, -1
    np.testing.assert_allclose(loss_fn("hinge", "sum")(z, y).item(), 1.0 + 0.0 + 1.5 + 0.0)
    np.testing.assert_allclose(loss_fn("hinge")(z, y).item(), 2.5 / 4)
    assert set(LOSSES) == {"bce", "mse", "hinge"}
    with pytest.raises(ValueError, match="loss must be one of"):
        loss_fn("l1")


# ---------------------------------------------------------------- App. C ablation


@pytest.mark.parametrize(
    ("lr", "ow", "loss", "name"),
    [
        (0.02, "sign", "bce", "lr0.02-sign-bce"),
        (0.001, "uniform", "hinge", "lr0.001-uniform-hinge"),
        (1e-5, "sign", "mse", "lr1e-05-sign-mse"),
    ],
)
def test_setting_round_trip(lr, ow, loss, name):
    import re

    assert registry.ablation_setting(lr, ow, loss) == name
    assert registry.parse_setting(name) == {"lr": lr, "output_weights": ow, "loss": loss}
    # the wildcard constraint of rule lowdim_ablation_train accepts it
    assert re.fullmatch(r"lr[0-9.e+-]+-(sign|uniform)-(bce|mse|hinge)", name)


def _cfg(name: str, **ablations):
    cfg = check_config(load_yaml(ROOT / f"config/{name}.yaml"), ROOT / "config/schema.yaml")
    if ablations:
        cfg["lowdim"]["ablations"] = ablations
    return cfg


def test_ablation_paths_on_and_off():
    assert registry.ablation_runs(_cfg("config")) == []
    assert not registry.ablation_on(_cfg("config"))
    cfg = _cfg(
        "config",
        manifolds=["line"],
        seeds=[0, 1],
        lr=[0.02],
        output_weights=["sign"],
        loss=["bce", "mse"],
    )
    assert registry.ablation_runs(cfg) == [
        "results/lowdim/ablations/line/lr0.02-sign-bce/seed0/boundary.zarr",
        "results/lowdim/ablations/line/lr0.02-sign-bce/seed1/boundary.zarr",
        "results/lowdim/ablations/line/lr0.02-sign-mse/seed0/boundary.zarr",
        "results/lowdim/ablations/line/lr0.02-sign-mse/seed1/boundary.zarr",
    ]
    assert registry.ABLATION_METRICS in registry.metric_files(cfg)
    assert "dmm_lowdim_ablation" in {f.name for f in registry.figures(cfg)}


def _fake_run(man, setting, seed, acc, offsets, distance):
    off = np.asarray(offsets, dtype=np.float64)
    return xr.Dataset(
        {
            "train_accuracy": ("train_epoch", np.array([0.5, acc])),
            "probe_normal_offset": (("epoch", "probe"), np.stack([off * 0 + 0.4, off])),
            "probe_distance": (("epoch", "probe"), np.stack([off * 0 + 0.4, distance])),
        },
        attrs={"manifold": man, "setting": setting, "seed": seed},
    )


def test_ablation_summary_and_metrics_known_answer():
    runs = [
        _fake_run("line", "lr0.02-sign-bce", 0, 0.5, [0.01, np.nan, 0.3, -0.02], [0.1] * 4),
        _fake_run("line", "lr0.02-sign-bce", 1, 0.95, [0.01, 0.01, 0.01, 0.01], [0.02] * 4),
        _fake_run("line", "lr0.02-uniform-mse", 0, 0.92, [0.0, 0.0, 0.0, 0.0], [0.0] * 4),
    ]
    s = summarize_ablation(runs, fit=0.9, share_distance=0.05)
    assert list(s.setting.values) == ["lr0.02-sign-bce", "lr0.02-uniform-mse"]
    np.testing.assert_allclose(s.trains.sel(setting="lr0.02-sign-bce").values.ravel(), [0, 1])
    np.testing.assert_allclose(
        s.share_mid.sel(setting="lr0.02-sign-bce").values.ravel(), [0.5, 1.0]
    )
    np.testing.assert_allclose(
        s.boundary_offset.sel(setting="lr0.02-sign-bce", seed=0).item(), (0.01 + 0.3 + 0.02) / 3
    )
    m = ablation_metrics(s)
    k = "dmm_lowdim_ablation/line-lr0.02-sign-bce"
    assert m[f"{k}/trains"]["mean"] == pytest.approx(0.5)
    assert m[f"{k}/train_accuracy"]["per_seed"] == pytest.approx([0.5, 0.95])
    assert f"{k}/share_within_0.05_final" in m
    assert f"{k}/boundary_distance_final" in m
    # the seed the mse setting lacks is NaN, not a fake value
    assert m["dmm_lowdim_ablation/line-lr0.02-uniform-mse/train_accuracy"]["n_seeds"] == 1


def test_claims_every_new_claim_testable_or_explained():
    new = (
        "sec5_1.clinging_without_labels_coherent",
        "sec3.boundary_along_manifold",
        "sec3.clinging_closer_than_walls",
        "appc.settings_train_",
    )
    for name in ("config", "test", "paper", "ablations"):
        cfg = _cfg("config")
        if name in ("test", "paper"):
            cfg = _cfg(name)
        if name == "ablations":
            cfg["lowdim"]["ablations"] = load_yaml(ROOT / "config/ablations.yaml")["lowdim"][
                "ablations"
            ]
        cl = [c for c in lowdim_claims.claims(cfg) if any(n in c.id for n in new)]
        assert len(cl) == 3 * (3 + 6)
        for c in cl:
            if c.not_testable:
                assert c.evidence is None
            else:
                assert c.metric_keys, c.id  # every key it reads is one this config writes
    cfg = _cfg("config")
    by_id = {c.id: c for c in lowdim_claims.claims(cfg)}
    assert (
        "needs the App. C ablation"
        in by_id["lowdim.appc.settings_train_sign_bce.line"].not_testable
    )
    cfg = _cfg("test")
    by_id = {c.id: c for c in lowdim_claims.claims(cfg)}
    assert not by_id["lowdim.appc.settings_train_sign_bce.line"].not_testable
    assert "needs 'plane'" in by_id["lowdim.appc.settings_train_sign_bce.plane"].not_testable
    assert "loss 'mse'" in by_id["lowdim.appc.settings_train_sign_mse.line"].not_testable


def test_summary_and_metrics_with_walls_and_separation():
    from pipeline_lib.studies.lowdim.metrics import lowdim_metrics, summarize_lowdim

    data = make_lowdim_dataset("line", 4, 3, 2, 0.01, 0.1, 9, 0)
    runs = [_tiny_run(data, v, res=21, normal_steps=41) for v in ("clean", "random_clusters")]
    walls = walls_experiment(data, res=21, normal_steps=41)
    sep = {"distances": [0.02, 0.05], "quantiles": [0.25, 0.5], "bins": 4}
    s = summarize_lowdim(runs, [walls], sep)
    assert s.share_within.dims == ("manifold", "variant", "seed", "epoch", "distance")
    assert s.offset_histogram.sizes["offset_bin"] == 4
    np.testing.assert_allclose(s.offset_bin.values, [-0.375, -0.125, 0.125, 0.375])
    # the summary's share is share_within of the run's own offsets
    clean = runs[0].probe_normal_offset.values[-1]
    np.testing.assert_allclose(
        s.share_within.sel(variant="clean", epoch=1).values.ravel(),
        share_within(clean, [0.02, 0.05]),
    )
    w = s.sel(manifold="line")
    np.testing.assert_allclose(w.walls_share_within.values, [0.0, 0.0])
    np.testing.assert_allclose(w.walls_offset_quantile.values, [REACH, REACH])
    assert float(w.walls_boundary_distance) == pytest.approx(0.8 / 9, abs=1e-6)
    m = lowdim_metrics(s)
    for k in (
        "dmm_lowdim/line-clean/share_within_0.05_final",
        "dmm_lowdim/line-random_clusters/normal_offset_q50_final",
        "dmm_lowdim/line-clean/boundary_offset_final",
        "dmm_lowdim/line-walls/share_within_0.05",
        "dmm_lowdim/line-walls/normal_offset_q25",
        "dmm_lowdim/line-walls/boundary_distance",
    ):
        assert k in m, k
    assert m["dmm_lowdim/line-walls/boundary_offset"] is None  # no normal line crosses a wall
    assert m["dmm_lowdim/line-walls/share_within_0.05"] == 0.0


def test_random_cluster_labels_never_the_true_labels_or_their_complement():
    _, centre_labels = cluster_centres(1, 4, 0.1)  # 0 1 0 1: 6 arrangements, 2 excluded
    cluster = np.arange(4)
    seen = set()
    for seed in range(40):
        a = random_cluster_labels(cluster, centre_labels, seed)
        assert a.sum() == 2
        assert not np.array_equal(a, centre_labels) and not np.array_equal(a, 1 - centre_labels)
        seen.add(tuple(a))
    assert seen == {(0, 0, 1, 1), (1, 1, 0, 0), (0, 1, 1, 0), (1, 0, 0, 1)}
    # two clusters: no other arrangement exists; still one class per cluster
    two = random_cluster_labels(np.array([0, 0, 1, 1]), np.array([0, 1]), 0)
    assert set(two[:2]) | set(two[2:]) == {0, 1} and two[0] == two[1]
