"""The table behind the model-shell success figure (:func:`success_table`,
:func:`success_bars`) on hand-made evaluation stores with known flags, and its drawing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.container import BarContainer

from pipeline_lib.studies.shells import experiment as shells
from pipeline_lib.studies.shells import plots as shell_plots

# base attack; transfer (wrong), transfer (wrong & changed), adaptive, retained accuracy
# per shell
N_CATEGORIES = 1 + 5 * 2


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def hand_store(shift: int = 0) -> xr.Dataset:
    """4 points in 2 batches (points 0, 1 | 2, 3), shells "mcn" and "ncn", known flags."""
    label = np.array([0, 1, 2, 0])
    clean = np.array([[0, 1, 2, 1], [0, 1, 1, 0]])  # mcn wrong on point 3, ncn on point 2
    adv = np.array([[0, 2, 2, 1], [1, 1, 1, 0]])
    adaptive = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)
    return xr.Dataset(
        {
            "label": ("point", label),
            "base_adv_success": ("point", np.array([True, True, False, bool(shift)])),
            "shell_clean_pred": (("shell", "point"), clean),
            "shell_adv_pred": (("shell", "point"), adv),
            "shell_clean_feasible": (("shell", "point"), np.ones((2, 4), bool)),
            "adaptive_success": (("shell", "point"), adaptive),
            "worst_success": (("shell", "point"), (adv != label) | adaptive),
        },
        coords={
            "point": np.arange(4),
            "batch": ("point", [0, 0, 1, 1]),
            "shell": ["mcn", "ncn"],
            "shell_kind": ("shell", ["mcn", "ncn"]),
        },
        attrs={"eps": 8 / 255},
    )


@pytest.fixture
def stores() -> dict:
    return {"clean": [hand_store(0), hand_store(1)], "linf_adv": hand_store(0), "other": []}


def test_success_table_rows_and_values(stores):
    t = shell_plots.success_table(stores)
    assert list(t.columns) == ["base", "key", "category", "group", "seed", "batch", "value"]
    assert t["value"].between(0, 1).all()
    # group sizes: seeds x batches per category, no rows for a base without stores
    sizes = t.groupby(["base", "key"]).size()
    assert (sizes.loc["clean"] == 2 * 2).all() and len(sizes.loc["clean"]) == N_CATEGORIES
    assert (sizes.loc["linf_adv"] == 1 * 2).all() and len(sizes.loc["linf_adv"]) == N_CATEGORIES
    assert len(t) == (2 + 1) * 2 * N_CATEGORIES and "other" not in set(t["base"])
    assert set(t["group"]) == {"attack success", "accuracy"}
    assert (t.loc[t["key"].str.endswith("retained_accuracy"), "group"] == "accuracy").all()

    def vals(base, key, seed):
        sel = (t["base"] == base) & (t["key"] == key) & (t["seed"] == seed)
        return t.loc[sel].sort_values("batch")["value"].tolist()

    # by hand: base attack succeeds on points 0, 1 (+ 3 when shifted)
    assert vals("clean", "base_attack_success_rate", 0) == [1.0, 0.0]
    assert vals("clean", "base_attack_success_rate", 1) == [1.0, 0.5]
    assert vals("clean", "mcn/transfer_success_rate", 0) == [0.5, 0.5]  # points 1, 3
    assert vals("clean", "mcn/wrong_and_changed_rate", 0) == [0.5, 0.0]  # point 1
    assert vals("clean", "mcn/retained_accuracy", 1) == [1.0, 0.5]  # point 3 wrong
    assert vals("linf_adv", "ncn/adaptive_success_rate", 0) == [0.5, 1.0]
    # and as the metrics compute them
    rates = shells.batch_rates(hand_store(1))
    for key in set(t["key"]):
        assert vals("clean", key, 1) == list(rates[key])
    # x labels in plotting order; one category per key
    first = t[(t["base"] == "clean") & (t["seed"] == 0) & (t["batch"] == 0)]
    assert first["category"].tolist()[:4] == [
        "base F\nattack",
        "MCN\ntransfer",
        "MCN\nwrong &\nchanged",
        "MCN\nadaptive",
    ]
    assert t.groupby("key")["category"].nunique().eq(1).all()
    panels = t.attrs["panels"]
    assert list(panels) == ["clean", "linf_adv", "other"]
    assert panels["clean"] == {
        "n_runs": 2,
        "n_points": 4,
        "eps": pytest.approx(8 / 255),
        "shells": ["mcn", "ncn"],
    }
    assert panels["other"]["n_runs"] == 0 and panels["other"]["shells"] == []
    with pytest.raises(ValueError, match="no stores"):
        shell_plots.success_table({})


def test_success_bars_mean_and_seed_sd(stores):
    t = shell_plots.success_table(stores)
    bars = shell_plots.success_bars(t)
    assert len(bars) == 2 * N_CATEGORIES
    b = bars.set_index(["base", "key"])
    base = b.loc[("clean", "base_attack_success_rate")]
    assert base["mean"] == pytest.approx(0.625)  # (1 + 0 + 1 + 0.5) / 4
    assert base["sd"] == pytest.approx(np.std([0.5, 0.75], ddof=1)) and base["n_seeds"] == 2
    one = b.loc[("linf_adv", "base_attack_success_rate")]
    assert one["mean"] == pytest.approx(0.5) and one["sd"] == 0.0 and one["n_seeds"] == 1
    assert bars["mean"].between(0, 1).all() and (bars["sd"] >= 0).all()
    # the same numbers as the metrics
    m = shells.shell_metrics(stores["clean"])
    for key in ("base_attack_success_rate", "mcn/adaptive_success_rate", "ncn/retained_accuracy"):
        assert b.loc[("clean", key), "mean"] == pytest.approx(m[key]["mean"])
        assert b.loc[("clean", key), "sd"] == pytest.approx(m[key]["std"])


def test_draw_success_bars_are_the_table(stores):
    t = shell_plots.success_table(stores)
    bars = shell_plots.success_bars(t)
    fig = shell_plots.draw_success(t)
    axes = fig.axes
    assert len(axes) == 3 and "no stores" in axes[2].get_title()
    for ax, base in zip(axes[:2], ["clean", "linf_adv"], strict=True):
        heights = [c.patches[0].get_height() for c in ax.containers if isinstance(c, BarContainer)]
        np.testing.assert_allclose(heights, bars.loc[bars["base"] == base, "mean"])
    assert "2 seed(s) x 4 correct points" in axes[0].get_title()
    # the wrapper the figure script calls is compute then draw
    fig2 = shell_plots.success_figure(stores)
    assert [ax.get_title() for ax in fig2.axes] == [ax.get_title() for ax in axes]
