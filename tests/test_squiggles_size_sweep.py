"""The Squiggles training-set size sweep ("is it only scale?", issue 20 item 4): which
models it trains and attacks, how one point's numbers are computed, its figure and its
claims."""

import copy

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from scipy import stats

from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.ledger import EvidenceContext
from pipeline_lib.studies.squiggles import claims as sq_claims
from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.studies.squiggles import plots
from pipeline_lib.studies.squiggles import registry as reg
from pipeline_lib.verdicts import judge


@pytest.fixture(scope="module")
def cfg(root):
    return check_config(load_yaml(root / "config/config.yaml"), root / "config/schema.yaml")


def test_default_sweep_is_one_smaller_set_beside_the_main_models(cfg):
    assert reg.sweep_active(cfg) and reg.sweep_fracs(cfg) == ["0.25"]
    n = cfg["squiggles"]["n_train"]
    assert reg.sweep_size(cfg, "0.25") == n // 4
    # the main models' number of steps: 4x the epochs on a quarter of the curves
    assert reg.sweep_epochs(cfg, "0.25") == 4 * cfg["squiggles"]["classifier"]["epochs"]
    assert reg.size_stream(cfg, "0.25") is None  # sliced from the stored train set
    assert reg.size_train_input(cfg, "0.25", "sinenet") == [reg.data("sinenet", "train")]
    assert reg.size_stream(cfg, "4")["chunk"] > 0  # more curves than stored: streamed
    pts = reg.sweep_points(cfg, "sinenet")
    assert [(s, seed) for s, seed, _ in pts] == [(n // 4, 0), (n, 0)]
    # the main models are the point at n_train
    assert pts[1][2]["training"] == reg.run("sinenet", "0", 0, "training.zarr")
    assert pts[0][2]["pixel"] == reg.size_run("sinenet", "0.25", "0.08", 0, "pixel.zarr")
    assert len(reg.sweep_inputs(cfg)) == 4 * len(pts)
    assert reg.SIZE_METRICS in reg.metric_files(cfg)
    assert "squiggles_sinenet_size_sweep" in {f.name for f in reg.figures(cfg)}


def test_sweep_trains_its_own_models_where_the_main_seeds_end(cfg):
    c = copy.deepcopy(cfg)
    c["squiggles"]["size_sweep"] = {
        "fractions": [0.5, 1, 2],
        "seeds": [0, 1],
        "n_samples": 50,
        "equal_steps": False,
    }
    pts = reg.sweep_points(c, "sinenet")
    assert len(pts) == 6
    at_n = {seed: files["training"] for s, seed, files in pts if s == c["squiggles"]["n_train"]}
    assert at_n[0] == reg.run("sinenet", "0", 0, "training.zarr")  # a main model
    assert at_n[1] == reg.size_run("sinenet", "1", "0", 1, "training.zarr")  # trained for it
    assert reg.sweep_epochs(c, "0.5") == c["squiggles"]["classifier"]["epochs"]
    c["squiggles"]["size_sweep"]["fractions"] = []
    assert not reg.sweep_active(c) and reg.sweep_inputs(c) == []


def _stores(clean_acc, lat_ok, px0_ok, px_ok):
    """A training store and latent / pixel stores of 4 attacked curves with known
    outcomes (lat_ok: per eps, per curve, attacked prediction right)."""
    lat_ok = np.asarray(lat_ok, bool)  # (eps, sample)
    n = lat_ok.shape[1]
    label = np.zeros(n, np.int64)
    training = xr.Dataset(
        {"test_accuracy": ("epoch", [0.5, clean_acc])},
        coords={"epoch": [1, 2]},
        attrs={"n_train": 100},
    )
    latent = xr.Dataset(
        {
            "label": ("sample", label),
            "clean_proba": ("sample", np.full(n, 0.1)),
            "pred_adv": (("sample", "eps"), np.where(lat_ok.T, 0, 1)),
            "label_adv": (("sample", "eps"), np.zeros((n, lat_ok.shape[0]), np.int64)),
        },
        coords={"eps": [0.1, 0.2]},
    )

    def pixel(ok):
        ok = np.asarray(ok, bool)
        return xr.Dataset(
            {
                "label": ("sample", label),
                "clean_proba": ("sample", np.full(n, 0.1)),
                "pgd_success": (("sample", "eps"), ~ok[:, None]),
                "noise_accuracy": (("sample", "eps"), np.ones((n, 1))),
                "noise_fooled": (("sample", "eps"), np.zeros((n, 1), bool)),
            },
            coords={"eps": [0.15]},
            attrs={"focus_eps": 0.15},
        )

    return training, latent, pixel(px0_ok), pixel(px_ok)


def test_size_point_numbers():
    st = _stores(0.9, [[1, 1, 0, 1], [1, 0, 0, 1]], [1, 0, 0, 0], [1, 1, 1, 0])
    p = se.size_point(*st, n=4)
    assert p["clean_accuracy"] == 0.9 and p["epochs"] == 2 and p["n_train"] == 100
    assert p["latent_min_accuracy"] == 0.5 and p["latent_best_eps"] == 0.2
    assert p["pixel_accuracy_sigma0"] == 0.25 and p["pixel_accuracy_noise"] == 0.75
    assert p["noise_explained_fraction"] == pytest.approx((0.75 - 0.25) / 0.75)
    # only the first n attacked curves count
    assert se.size_point(*st, n=2)["latent_min_accuracy"] == 0.5
    assert se.size_point(*st, n=1)["latent_min_accuracy"] == 1.0


def test_sweep_metrics_figure_and_claims(cfg):
    pts = [
        (size, seed, _stores(acc, [[1] * 4, ok], [0, 0, 0, 0], px))
        for size, seed, acc, ok, px in (
            (100, 0, 0.6, [0, 0, 0, 0], [0, 0, 0, 0]),
            (100, 1, 0.62, [0, 0, 0, 1], [1, 0, 0, 0]),
            (400, 0, 0.7, [1, 0, 0, 1], [1, 1, 0, 0]),
            (400, 1, 0.72, [1, 1, 0, 0], [1, 1, 1, 0]),
            (1600, 0, 0.8, [1, 1, 1, 0], [1, 1, 1, 0]),
            (1600, 1, 0.85, [1, 1, 1, 1], [1, 1, 1, 1]),
        )
    ]
    m = se.size_sweep_metrics({"sinenet": pts}, 4)
    rows = m["squiggles/size_sweep/sinenet/points"]
    assert [(r["size"], r["seed"]) for r in rows] == [(s, k) for s, k, _ in pts]
    assert m["squiggles/size_sweep/sinenet/by_size"]["400"]["clean_accuracy"]["mean"] == 0.71
    assert [p["size"] for p in m["squiggles/size_sweep/paper_sec42_accuracy"]][0] == 32_758
    fig = plots.size_sweep_figure(m, "sinenet")
    assert len(fig.axes) == 3 and all(ax.get_xscale() == "log" for ax in fig.axes)
    # the latent panel's bars: each seed's Wilson 95% interval over the 4 attacked curves
    (bars,) = fig.axes[1].containers
    got_bars = sorted(tuple(seg[:, 1]) for seg in bars.lines[2][0].get_segments())
    acc = np.array([r["latent_min_accuracy"] for r in rows])
    want = sorted(
        tuple(stats.binomtest(int(round(a * 4)), 4).proportion_ci(0.95, method="wilson"))
        for a in acc
    )
    np.testing.assert_allclose(got_bars, want, atol=1e-9)
    assert not fig.axes[2].containers  # no binomial interval for a ratio of two rates
    assert fig.axes[2].get_ylim()[1] == pytest.approx(1.02)  # the share on its 0..1 scale
    plt.close(fig)
    ctx = EvidenceContext(metrics=m, config=cfg)
    got = {
        c.id.rsplit(".", 1)[-1]: judge(c, ctx)
        for c in sq_claims.claims(cfg)
        if ".size_sweep.sinenet." in c.id
    }
    assert set(got) == {
        "accuracy_grows_with_data",
        "latent_attack_weakens_with_data",
        "noise_defense_strengthens_with_data",
    }
    from scipy.stats import spearmanr

    sizes = [np.log10(r["size"]) for r in rows]
    rho = spearmanr(sizes, [r["clean_accuracy"] for r in rows]).statistic
    assert got["accuracy_grows_with_data"]["estimate"] == pytest.approx(rho) and rho > 0.9
    assert got["accuracy_grows_with_data"]["n"] == 6
