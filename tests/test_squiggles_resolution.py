"""The Squiggles resolution study (Sec. 4.7, Fig. 12; issue 20 item 5): which models it
trains and attacks, the same curves at both sides, how its numbers are computed, its
figure, its config checks and the Sec. 4.7 claims it makes testable."""

import copy

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from pipeline_lib import costs
from pipeline_lib.config import check_config, load_yaml
from pipeline_lib.ledger import EvidenceContext
from pipeline_lib.studies.squiggles import checks, plots
from pipeline_lib.studies.squiggles import claims as sq_claims
from pipeline_lib.studies.squiggles import experiment as se
from pipeline_lib.studies.squiggles import registry as reg
from pipeline_lib.studies.squiggles.generators import make_dataset
from pipeline_lib.verdicts import judge

SEC47 = (
    "res120_clean_accuracy",
    "res120_latent_attack_limited",
    "pixel_vulnerability_grows_with_resolution",
    "noise_defense_improves_at_equal_eps",
    "noise_defense_harder_in_higher_dimension",
)


@pytest.fixture(scope="module")
def cfg(root):
    return check_config(load_yaml(root / "config/config.yaml"), root / "config/schema.yaml")


@pytest.fixture
def on(cfg):
    """The default config with the paper's factor 2 and two seeds (main and study)."""
    c = copy.deepcopy(cfg)
    c["squiggles"]["seeds"] = [0, 1]
    c["squiggles"]["resolution_study"] = {"factors": [2], "seeds": [0, 1], "n_samples": 4}
    return c


def test_off_by_default_and_its_models_when_on(cfg, on):
    assert not reg.res_active(cfg) and reg.res_inputs(cfg) == []
    assert reg.RES_METRICS not in reg.metric_files(cfg)
    assert reg.res_active(on) and reg.res_factors(on) == ["2"]
    assert reg.res_resolution(on, "2") == 2 * on["squiggles"]["resolution"] == 120
    pts = reg.res_points(on, "sinenet")
    assert [(f, s) for f, s, _ in pts] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    # factor 1 is the main models; factor 2 the study's own, noise model at 0.08
    assert pts[0][2]["training"] == reg.run("sinenet", "0", 0, "training.zarr")
    assert pts[3][2]["pixel"] == reg.res_run("sinenet", "2", "0.08", 1, "pixel.zarr")
    assert pts[3][2]["latent"] == "results/squiggles/res_x2/sinenet/seed1/latent.zarr"
    assert len(reg.res_inputs(on)) == len(reg.RES_FILES) * len(pts)
    # the focus eps and its per-pixel equivalent at twice the side are on the grid
    eps = reg.res_pixel_eps(on, "2")
    assert 0.15 in eps and 0.3 in eps and eps == sorted(eps)
    # a stored training split is rendered again; a streamed one is not stored
    assert reg.res_train_input(on, "2", "sinenet") == [reg.res_data("2", "sinenet", "train")]
    on["squiggles"]["stream"]["enabled"] = True
    assert reg.res_train_input(on, "2", "sinenet") == []
    assert reg.RES_METRICS in reg.metric_files(on)
    assert "squiggles_sinenet_resolution" in {f.name for f in reg.figures(on)}


def test_costs_and_memory_scale_with_the_pixels(on):
    w = {"variant": "sinenet", "sigma": "0", "seed": "0", "factor": "2"}
    assert costs.UNITS["squiggles_res_train"](on, w) == pytest.approx(
        4 * costs.UNITS["squiggles_train"](on, w)
    )
    assert reg.train_mem_mb(on, 2) > reg.train_mem_mb(on)


def test_the_same_curves_at_both_sides():
    """The study compares curve by curve: rendering at another side draws the same
    latents, hence the same labels."""
    a = make_dataset("sinenet", 6, 3, "test", 12)
    b = make_dataset("sinenet", 6, 3, "test", 24)
    assert np.array_equal(a["latent"].values, b["latent"].values)
    assert np.array_equal(a["label"].values, b["label"].values)
    assert a["image"].shape[-1] == 12 and b["image"].shape[-1] == 24


def test_config_checks(on):
    bad = copy.deepcopy(on)
    bad["squiggles"]["resolution_study"]["seeds"] = [0, 5]
    bad["squiggles"]["resolution_study"]["n_samples"] = 10**6
    errs = " ".join(_errors(bad))
    assert "resolution_study.seeds" in errs and "[5]" in errs
    assert "resolution_study.n_samples" in errs
    bad = copy.deepcopy(on)
    bad["squiggles"]["noise_sigmas"] = [0.0]
    assert "resolution_study.factors" in " ".join(_errors(bad))
    assert not [e for e in _errors(on) if "resolution_study" in e]


def _errors(c):
    return checks.errors(c)


def _stores(clean, clean_noise, lat_ok, px0_ok, px_ok, eps):
    """A point's stores: training (sigma 0 and noise), latent (2 eps x 4 curves), and two
    pixel stores over ``eps`` (rows: eps, per curve: still correct)."""
    lat_ok = np.asarray(lat_ok, bool)
    n = lat_ok.shape[1]
    label = np.zeros(n, np.int64)

    def training(acc):
        return xr.Dataset({"test_accuracy": ("epoch", [0.5, acc])}, coords={"epoch": [1, 2]})

    latent = xr.Dataset(
        {
            "label": ("sample", label),
            "clean_proba": ("sample", np.full(n, 0.1)),
            "pred_adv": (("sample", "eps"), np.where(lat_ok.T, 0, 1)),
            "label_adv": (("sample", "eps"), np.zeros((n, 2), np.int64)),
        },
        coords={"eps": [0.1, 0.2]},
    )

    def pixel(ok):
        ok = np.asarray(ok, bool).T  # (sample, eps)
        return xr.Dataset(
            {
                "label": ("sample", label),
                "pgd_success": (("sample", "eps"), ~ok),
                "noise_accuracy": (("sample", "eps"), np.ones(ok.shape)),
                "noise_fooled": (("sample", "eps"), np.zeros(ok.shape, bool)),
            },
            coords={"eps": eps},
            attrs={"focus_eps": 0.15},
        )

    return {
        "training": training(clean),
        "training_noise": training(clean_noise),
        "latent": latent,
        "pixel0": pixel(px0_ok),
        "pixel": pixel(px_ok),
    }


def test_point_numbers_and_off_grid_eps():
    st = _stores(
        0.9,
        0.8,
        [[1, 1, 0, 1], [1, 0, 0, 1]],
        [[1, 0, 0, 0], [0, 0, 0, 0]],
        [[1, 1, 1, 0], [1, 0, 0, 0]],
        [0.15, 0.3],
    )
    p = se.resolution_point(st, 2, n=4, focus=0.15)
    assert p["clean_accuracy"] == 0.9 and p["clean_accuracy_noise"] == 0.8
    assert p["latent_min_accuracy"] == 0.5 and p["latent_best_eps"] == 0.2
    assert p["pixel_accuracy_sigma0"] == 0.25 and p["pixel_accuracy_sigma0_scaled"] == 0.0
    assert p["pixel_accuracy_noise"] == 0.75 and p["pixel_accuracy_noise_scaled"] == 0.25
    assert se.resolution_point(st, 2, n=1, focus=0.15)["pixel_accuracy_noise"] == 1.0
    with pytest.raises(ValueError, match="not on the pixel store's grid"):
        se.pixel_correct_at(st["pixel"], 0.6, 4)


def test_metrics_figure_and_claims(on):
    """Metrics and figure from stores with known outcomes; the Sec. 4.7 claims read the
    stores from their paths and pair the two sides curve by curve."""
    seeds = (0, 1)
    base = {  # at 60x60 (the main models): eps grid [0.15]... plus 0.3 for the scaled eps
        s: _stores(
            0.95,
            0.9,
            [[1] * 4, [1, 1, 0, 0]],
            [[1, 1, 0, 0], [1, 0, 0, 0]],
            [[1, 1, 1, 0], [1, 1, 0, 0]],
            [0.15, 0.3],
        )  # fmt: skip
        for s in seeds
    }
    hi = {  # at 120x120: sigma 0 weaker at 0.15; noise better at 0.15, worse at 0.3
        s: _stores(
            0.99,
            0.97,
            [[1] * 4, [1, 1, 1, 0]],
            [[0, 0, 0, 0], [0, 0, 0, 0]],
            [[1, 1, 1, 1], [1, 0, 0, 0]],
            [0.15, 0.3],
        )  # fmt: skip
        for s in seeds
    }
    pts = [(1, s, base[s]) for s in seeds] + [(2, s, hi[s]) for s in seeds]
    m = se.resolution_metrics({"sinenet": pts}, 4, 0.15, 60)
    rows = m["squiggles/resolution/sinenet/points"]
    assert [(r["factor"], r["resolution"], r["seed"]) for r in rows] == [
        (1, 60, 0),
        (1, 60, 1),
        (2, 120, 0),
        (2, 120, 1),
    ]
    by = m["squiggles/resolution/sinenet/by_factor"]
    assert by["2"]["pixel_accuracy_noise"]["mean"] == 1.0
    assert by["2"]["pixel_accuracy_noise_scaled"]["mean"] == 0.25
    assert m["squiggles/resolution/sinenet/curves"]["2"]["pgd_sigma0"] == [0.0, 0.0]
    fig = plots.resolution_figure(m, "sinenet")
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "log" for ax in fig.axes)
    plt.close(fig)

    # the stores at their paths, for the claims
    paths = {}
    for f, s, st in pts:
        files = dict(zip(reg.RES_FILES, _point_files(on, f, s), strict=True))
        for k, ds in st.items():
            paths[files[k]] = ds
    lab = xr.Dataset({"label": ("sample", np.zeros(4, np.int64))})
    paths[reg.res_data("2", "sinenet", "test")] = lab
    for s in seeds:  # the study's sigma-0 models' test probabilities (3 of 4 right)
        tr = paths[reg.res_run("sinenet", "2", "0", s, "training.zarr")]
        proba = xr.DataArray([[0.1, 0.2, 0.9, 0.3]], dims=("test_variant", "sample"),
                             coords={"test_variant": ["sinenet"]})  # fmt: skip
        paths[reg.res_run("sinenet", "2", "0", s, "training.zarr")] = tr.assign(test_proba=proba)
    ctx = EvidenceContext(metrics=m, config=on, _stores=paths)
    got = {
        c.id.rsplit(".", 1)[-1]: (c, judge(c, ctx))
        for c in sq_claims.claims(on)
        if c.id.startswith("squiggles.sec47.sinenet.")
    }
    assert set(got) == set(SEC47)
    assert all(not c.not_testable for c, _ in got.values())
    clean = got["res120_clean_accuracy"][1]
    assert clean["estimate"] == pytest.approx(0.75) and clean["n"] == 8
    lat = got["res120_latent_attack_limited"][1]
    assert lat["estimate"] == pytest.approx(0.75)  # eps 0.2: 3 of 4 right, both seeds
    vuln = got["pixel_vulnerability_grows_with_resolution"][1]
    assert vuln["estimate"] == 0.0 and vuln["control_estimate"] == 0.5 and vuln["n"] == 8
    better = got["noise_defense_improves_at_equal_eps"][1]
    assert better["estimate"] == 1.0 and better["control_estimate"] == 0.75
    harder = got["noise_defense_harder_in_higher_dimension"][1]
    assert harder["estimate"] == 0.25 and harder["control_estimate"] == 0.75
    # every deviation of the study is declared: two seeds, the paper's sides
    devs = " ".join(d.what for d in got["noise_defense_harder_in_higher_dimension"][0].deviations)
    assert "attacked curves" in devs and "one classifier" not in devs


def _point_files(cfg, f, s):
    pts = {(ff, ss): files for ff, ss, files in reg.res_points(cfg, "sinenet")}
    return [pts[(f, s)][k] for k in reg.RES_FILES]


def test_claims_not_testable_without_the_study(cfg):
    by_id = {c.id: c for c in sq_claims.claims(cfg)}
    for cid in SEC47:
        c = by_id[f"squiggles.sec47.sinenet.{cid}"]
        assert "resolution" in c.not_testable, cid
