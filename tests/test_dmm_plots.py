"""Figures of the natural-image DMM experiments, on real stores from a tiny synthetic
dataset (three classes of 1x8x8 images told apart by a bright horizontal block)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from matplotlib.figure import Figure

from pipeline_lib.studies.dmm import controls
from pipeline_lib.studies.dmm import experiment as dmm
from pipeline_lib.studies.dmm import plots as dmm_plots
from pipeline_lib.viz import save

DEV = torch.device("cpu")
AE_CFG = {"kind": "mlp", "k": 3, "hidden": [16], "epochs": 2, "lr": 1e-2, "batch_size": 16}
CLS_CFG = {
    "kind": "mlp",
    "epochs": 3,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 16,
}
ATTACK_CFG = {
    "attack": {"eps": 2.0, "step": 0.1, "steps": 20},
    "constrained": {"eps": 3.0, "step": 0.1, "steps": 20, "on_step_factor": 5},
    "linf": {"eps": 0.3, "step": 0.03, "steps": 20},
}
ADV_CFG = {"eps": 0.3, "step": 0.1, "steps": 3}
DIST_CFG = {"eps_max": 3.0, "rel_step": 0.1, "steps": 10, "bisections": 3}
MIS_CFG = {"eps": 3.0, "step": 0.15, "steps": 25, "batch": 64}
CLASS_NAMES = ["top", "middle", "bottom"]


def tiny_dataset(n_train: int = 60, n_test: int = 30, seed: int = 0) -> xr.Dataset:
    """Same layout as :func:`pipeline_lib.natural.make_natural_dataset`."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    lab = np.arange(n) % 3
    img = rng.uniform(0.0, 0.15, (n, 1, 8, 8)).astype(np.float32)
    for i, c in enumerate(lab):
        img[i, 0, 2 * c + 1 : 2 * c + 3, 1:7] += 0.8
    classes = np.array([2, 5, 7])  # original numbering, not 0..C-1
    return xr.Dataset(
        {
            "image": (("sample", "channel", "row", "col"), np.clip(img, 0, 1)),
            "label": (("sample",), classes[lab]),
        },
        coords={
            "sample": np.arange(n),
            "split": ("sample", np.array(["train"] * n_train + ["test"] * n_test)),
            "channel": [0],
            "row": np.arange(8),
            "col": np.arange(8),
            "class_index": ("class_index", classes),
            "class_name": ("class_index", np.array(CLASS_NAMES)),
        },
        attrs={"dataset": "tiny", "title": "tiny", "n_features": 64},
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add overhead
    try:
        return _build_stores(tmp_path_factory)
    finally:
        torch.set_num_threads(threads)


def _build_stores(tmp_path_factory) -> dict:
    torch.manual_seed(0)
    ds = tiny_dataset()
    ae, _, _, ae_store = dmm.fit_autoencoder(ds, AE_CFG, 0, DEV)
    tan = dmm.tangent_store(ds, ae, 20, DEV)
    x_te, y_te, _ = dmm.split(ds, "test")
    ckdir = tmp_path_factory.mktemp("ckpt")
    attacks, trainings, distances = {}, {}, {}
    n1, models = None, {}
    plan = {"clean": [0, 1], "adversarial": [0], "random_labels": [0]}
    for variant, seeds in plan.items():
        for seed in seeds:
            model, kind, kw, states, hist = dmm.fit_classifier(
                ds, CLS_CFG, variant, seed, DEV, adversarial=ADV_CFG
            )
            if variant == "clean" and n1 is None:
                n1 = model
            if seed == 0:
                models[variant] = model
            trainings.setdefault(variant, []).append(hist)
            path = ckdir / f"{variant}-{seed}.pt"
            dmm.save_checkpoints(path, kind, kw, states)
            distances.setdefault(variant, []).append(
                dmm.distance_store(path, x_te[:10], y_te[:10], DIST_CFG, DEV)
            )
            if variant != "random_labels":
                attacks.setdefault(variant, []).append(
                    dmm.attack_store(model, tan, ATTACK_CFG, seed, DEV, path_steps=11)
                )
    mis = {
        s: [
            dmm.mislabeled_experiment(
                ds, s, n1, MIS_CFG, CLS_CFG, [2, 7], 0, DEV, similarity_samples=10
            )
        ]
        for s in ("det", "rand", "two_class")
    }
    ctl = {
        v: [controls.controls_store(models[v], tan, attacks[v][0], ATTACK_CFG, 0, DEV)]
        for v in ("clean", "adversarial")
    }
    return {
        "controls": ctl,
        "ae": ae_store,
        "tangent": tan,
        "attacks": attacks,
        "trainings": trainings,
        "distances": distances,
        "mislabeled": mis,
    }


def _no_success(st: xr.Dataset) -> xr.Dataset:
    """Every attack failed: the NaN pattern attack_store writes for failures."""
    st = st.copy(deep=True)
    for v in ("pgd_success", "linf_success", "c_success"):
        st[v][:] = False
    for v in (
        "ratio",
        "ratio_random_subspace",
        "on_effect",
        "total_effect",
        "c_distance",
        "l2_object_share",
        "linf_object_share",
    ):
        st[v][:] = np.nan
    st["grad_on_share"][:] = np.nan  # all-NaN variable too
    return st


def _check(fig, min_axes: int, path) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= min_axes
    save(fig, path)
    assert path.stat().st_size > 1000


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def test_store_contents(stores):
    st = stores["attacks"]["clean"][0]
    assert st.sizes["sample"] > 0
    assert set(st.sample.values) <= set(stores["tangent"].sample.values)
    assert st.pgd_success.any()


def test_autoencoder_figure(stores, tmp_path):
    fig = dmm_plots.autoencoder_figure(stores["ae"], stores["tangent"], n_show=8)
    _check(fig, 2 * 8 + 2, tmp_path / "ae.png")
    many = dmm_plots.autoencoder_figure(stores["ae"], stores["tangent"], n_show=100)
    _check(many, 2 * 20 + 2, tmp_path / "ae_all.png")


def test_ratio_figure(stores, tmp_path):
    _check(dmm_plots.ratio_figure(stores["attacks"]), 3, tmp_path / "ratio.png")
    st = stores["attacks"]["clean"][0]
    odd = {"clean": [st], "adversarial": [_no_success(st)]}  # one seed, all-NaN variant
    _check(dmm_plots.ratio_figure(odd), 3, tmp_path / "ratio_nan.png")
    _check(dmm_plots.ratio_figure({"clean": [_no_success(st)]}), 3, tmp_path / "ratio_0.png")


def test_projection_gallery(stores, tmp_path):
    st, tan = stores["attacks"]["clean"][0], stores["tangent"]
    n_ok = int(st.pgd_success.sum())
    fig = dmm_plots.projection_gallery(st, tan, n_show=3, class_names=CLASS_NAMES)
    _check(fig, min(3, n_ok) * 8, tmp_path / "gallery.png")
    one = st.copy(deep=True)
    ok = one.pgd_success.values.copy()
    ok[np.flatnonzero(ok)[1:]] = False  # a single success: fewer than n_show
    one["pgd_success"] = ("sample", ok)
    _check(dmm_plots.projection_gallery(one, tan, n_show=4), 8, tmp_path / "g1.png")
    fig = dmm_plots.projection_gallery(_no_success(st), tan, n_show=4)
    _check(fig, 1, tmp_path / "g0.png")
    assert "no successful attack" in [t.get_text() for t in fig.axes[0].texts]


def test_projection_matches_store(stores):
    """Proj_M d rebuilt from the tangent store has the stored norm |Proj_M d|."""
    st, tan = stores["attacks"]["clean"][0], stores["tangent"]
    b = tan.basis.sel(sample=st.sample.values).values
    d = st.pgd_delta.values
    on = np.einsum("nk,nkf->nf", np.einsum("nkf,nf->nk", b, d), b)
    np.testing.assert_allclose(np.linalg.norm(on, axis=1), st.on_norm.values, rtol=1e-4)


def test_onoff_figure(stores, tmp_path):
    st = stores["attacks"]["clean"][0]
    fig = dmm_plots.onoff_figure(stores["attacks"], st, n_show=3, class_names=CLASS_NAMES)
    _check(fig, 1 + 7, tmp_path / "onoff.png")
    odd = {"clean": [st], "adversarial": [_no_success(st)]}
    fig = dmm_plots.onoff_figure(odd, _no_success(st), n_show=3)
    _check(fig, 2, tmp_path / "onoff_nan.png")


def test_clinging_figure(stores, tmp_path):
    fig = dmm_plots.clinging_figure(stores["distances"], stores["trainings"])
    _check(fig, 3, tmp_path / "cling.png")
    d = stores["distances"]["clean"][0].copy(deep=True)
    d["distance"][:] = np.inf  # no boundary found anywhere
    fig = dmm_plots.clinging_figure(
        {"clean": [d], "adversarial": stores["distances"]["adversarial"]},
        {"clean": stores["trainings"]["clean"][:1]},
    )
    _check(fig, 3, tmp_path / "cling_inf.png")
    # distances of fewer variants than trained (dmm.distance_variants): the others are
    # listed as not tracked in the distance panels, and drawn in the accuracy panel
    only_clean = {"clean": stores["distances"]["clean"]}
    fig = dmm_plots.clinging_figure(only_clean, stores["trainings"])
    labels = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes[:3]]
    for ax_labels in labels[:2]:
        assert any("not tracked" in t for t in ax_labels)
        assert not any("no finite values" in t for t in ax_labels)
    assert not any("not tracked" in t for t in labels[2])
    _check(fig, 3, tmp_path / "cling_tracked.png")


def test_adv_training_figure(stores, tmp_path):
    _check(dmm_plots.adv_training_figure(stores["attacks"]), 2, tmp_path / "advtrain.png")
    st = stores["attacks"]["clean"][0]
    odd = {"clean": [st], "adversarial": [_no_success(st)]}
    _check(dmm_plots.adv_training_figure(odd), 2, tmp_path / "advtrain_nan.png")


def test_mislabeled_figure(stores, tmp_path):
    mis = stores["mislabeled"]
    for s in mis["det"] + mis["rand"]:
        assert 0.0 <= float(s.n2_test_accuracy) <= 1.0
    _check(dmm_plots.mislabeled_figure(mis), 1, tmp_path / "mis.png")
    nan = mis["det"][0].copy(deep=True)
    for v in ("n1_test_accuracy", "n2_test_accuracy", "control_test_accuracy"):
        nan[v] = np.nan
    _check(dmm_plots.mislabeled_figure({"det": [nan]}), 1, tmp_path / "mis_nan.png")


def test_linf_l2_figure(stores, tmp_path):
    st = stores["attacks"]["clean"][0]
    both = int((st.pgd_success & st.linf_success).sum())
    _check(dmm_plots.linf_l2_figure(st, n_show=3), 1 + 3 * min(3, both), tmp_path / "linf.png")
    _check(dmm_plots.linf_l2_figure(_no_success(st), n_show=3), 2, tmp_path / "linf_0.png")


def test_amplify():
    a = dmm_plots.amplify(np.array([-2.0, 0.0, 2.0]))
    np.testing.assert_allclose(a, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(dmm_plots.amplify(np.zeros(4)), 0.5)


def test_controls_figure(stores, tmp_path):
    att = {v: stores["attacks"][v][:1] for v in ("clean", "adversarial")}
    _check(dmm_plots.controls_figure(att, stores["controls"]), 4, tmp_path / "controls.png")
    ctl = stores["controls"]["clean"][0].copy(deep=True)
    for v in ctl.data_vars:
        if ctl[v].dtype.kind == "f":
            ctl[v][:] = np.nan
    odd_att = {"clean": [_no_success(stores["attacks"]["clean"][0])]}
    _check(dmm_plots.controls_figure(odd_att, {"clean": [ctl]}), 4, tmp_path / "controls_nan.png")


def test_similarity_figure(stores, tmp_path):
    mis = stores["mislabeled"]
    for s in mis["det"]:
        assert 0.0 <= float(s.n2_agreement_clean) <= 1.0
        assert -1.0 <= float(s.baseline_grad_cosine) <= 1.0
    _check(dmm_plots.similarity_figure(mis), 3, tmp_path / "sim.png")
    nan = mis["det"][0].copy(deep=True)
    for v in nan.data_vars:
        nan[v] = np.nan
    _check(dmm_plots.similarity_figure({"det": [nan]}), 1, tmp_path / "sim_nan.png")
