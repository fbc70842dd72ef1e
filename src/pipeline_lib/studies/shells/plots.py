"""Figures of the model-shell defenses (Wu et al., Sec. 5; :mod:`pipeline_lib.shells`).
Each figure function takes opened :func:`pipeline_lib.shells.evaluate` stores and
returns a matplotlib Figure; the success figure is :func:`draw_success` of the table
:func:`success_table` computes (bars: :func:`success_bars`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr

from pipeline_lib import viz  # noqa: F401  (the plotting backend, set once)

from .experiment import batch_rates, point_flags

BASE_NAMES = {"clean": "clean base model", "linf_adv": "L-inf adversarially trained base"}
SHELL_NAMES = {"mcn": "MCN", "ncn": "NCN", "cw": "CW"}
ATTACK_COLOR = "0.45"
SHELL_COLORS = ["tab:blue", "tab:orange", "tab:purple", "tab:brown"]


def _sname(s: str) -> str:
    return SHELL_NAMES.get(str(s), str(s))


def _categories(shells: list[str]) -> list[tuple[str, str, str, str]]:
    """(metric key, x label, colour, group) in plotting order."""
    cats = [("base_attack_success_rate", "base F\nattack", ATTACK_COLOR, "attack success")]
    for i, s in enumerate(shells):
        col = SHELL_COLORS[i % len(SHELL_COLORS)]
        cats.append((f"{s}/transfer_success_rate", f"{_sname(s)}\ntransfer", col, "attack success"))
        cats.append(
            (
                f"{s}/wrong_and_changed_rate",
                f"{_sname(s)}\nwrong &\nchanged",
                col,
                "attack success",
            )
        )
        cats.append((f"{s}/adaptive_success_rate", f"{_sname(s)}\nadaptive", col, "attack success"))
        cats.append(
            (f"{s}/worst_case_success_rate", f"{_sname(s)}\nworst case", col, "attack success")
        )
    for i, s in enumerate(shells):
        col = SHELL_COLORS[i % len(SHELL_COLORS)]
        cats.append((f"{s}/retained_accuracy", f"{_sname(s)}\nclean acc.", col, "accuracy"))
    return cats


def _runs(runs) -> list[xr.Dataset]:
    return [runs] if isinstance(runs, xr.Dataset) else list(runs)


def success_table(
    stores: dict[str, list[xr.Dataset]], shells: list[str] | None = None
) -> pd.DataFrame:
    """The per-batch rates behind :func:`success_figure`: one row per (base model, seed,
    category, batch), in that order, with columns ``base``, ``key`` (the
    :func:`~pipeline_lib.studies.shells.experiment.batch_rates` key), ``category`` (its
    x label), ``group`` ("attack success" or "accuracy"), ``seed`` (position in the
    base's list of stores), ``batch`` and ``value`` (the rate in that batch).

    ``attrs["panels"]``: per base model, in the order of ``stores`` (bases without stores
    included), ``n_runs``, ``n_points`` and ``eps`` of its first store (None without
    stores) and ``shells``, the shell names in plotting order (``shells`` where given, of
    those the stores hold; else every shell of the stores)."""
    if not stores:
        raise ValueError("no stores to plot")
    rows, panels = [], {}
    for base, runs in stores.items():
        runs = _runs(runs)
        panels[base] = {"n_runs": len(runs), "n_points": None, "eps": None, "shells": []}
        if not runs:
            continue
        held = [str(s) for s in runs[0].shell.values]
        shells_b = held if shells is None else [s for s in shells if s in held]
        panels[base].update(
            n_points=int(runs[0].sizes["point"]),
            eps=float(runs[0].attrs.get("eps", np.nan)),
            shells=shells_b,
        )
        rates = [batch_rates(r) for r in runs]
        for seed_i, rr in enumerate(rates):
            for key, label, _, group in _categories(shells_b):
                for b, v in enumerate(rr.get(key, [])):
                    rows.append((base, key, label, group, seed_i, b, v))
    columns = ["base", "key", "category", "group", "seed", "batch", "value"]
    table = pd.DataFrame(rows, columns=columns).astype({"seed": "int64", "batch": "int64"})
    table["value"] = table["value"].astype("float64")
    table.attrs["panels"] = panels
    return table


def success_bars(table: pd.DataFrame) -> pd.DataFrame:
    """The bars of :func:`success_figure` from :func:`success_table`: one row per (base
    model with stores, category) in plotting order with ``mean`` (over every batch of
    every seed; NaN without any), ``sd`` (over the per-seed means, ddof 1; 0 with one
    seed) and ``n_seeds`` (seeds with at least one batch)."""
    rows = []
    for base, panel in table.attrs["panels"].items():
        if not panel["n_runs"]:
            continue
        sub = table[table["base"] == base]
        for key, label, _, group in _categories(panel["shells"]):
            cat = sub[sub["key"] == key]
            per_seed = [float(np.mean(g["value"].to_numpy())) for _, g in cat.groupby("seed")]
            vals = cat["value"].to_numpy(dtype=np.float64)
            rows.append(
                {
                    "base": base,
                    "key": key,
                    "category": label,
                    "group": group,
                    "mean": float(vals.mean()) if vals.size else np.nan,
                    "sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
                    "n_seeds": len(per_seed),
                }
            )
    columns = ["base", "key", "category", "group", "mean", "sd", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def success_figure(stores: dict[str, list[xr.Dataset]], shells: list[str] | None = None):
    """Attack success of the base model, of each shell under the transfer attack (the
    paper's Table 1) and under the adaptive BPDA attack, and each shell's retained clean
    accuracy; one panel per base model: :func:`draw_success` of :func:`success_table`
    (``shells``: which of the stores' shells, default all).
    """
    return draw_success(success_table(stores, shells))


SWEEP_RATES = {
    "retained_accuracy": ("retained clean accuracy", "tab:green", "o", "-"),
    "transfer_success_rate": ("transfer: wrong at x_adv", "tab:blue", "s", "-"),
    "wrong_and_changed_rate": ("transfer: wrong & changed (paper)", "tab:blue", "s", ":"),
    "adaptive_success_rate": ("adaptive BPDA success", "tab:red", "^", "-"),
    "worst_case_success_rate": ("worst case over all attacks", "black", "v", "--"),
}


def sweep_table(stores: dict[str, list[xr.Dataset]]) -> pd.DataFrame:
    """The MCN shells of the stores (the configured one and the delta sweep's) by their
    radius in units of the attack's eps: one row per (base, shell, rate) with ``delta``
    (the shell's delta / eps), ``k``, ``n`` (pooled over seeds and batches), ``rate`` and
    its Wilson 95% interval ``lo``, ``hi``; base attack rows have shell "base"."""
    import json

    from pipeline_lib.stats import binomial_ci

    rows = []
    for base, runs in stores.items():
        runs = _runs(runs)
        if not runs:
            continue
        cfgs = json.loads(runs[0].attrs["shells"])
        eps = float(runs[0].attrs["eps"])
        flags = [point_flags(r) for r in runs]
        mcn = [s for s, c in cfgs.items() if c["kind"] == "mcn"]
        items = [("base", None, "base_attack_success_rate")]
        items += [(s, cfgs[s]["delta"] / eps, f"{s}/{k}") for s in mcn for k in SWEEP_RATES]
        for shell, delta, key in items:
            f = np.concatenate([np.asarray(fl[key], dtype=bool) for fl in flags])
            k, n = int(f.sum()), int(f.size)
            lo, hi = binomial_ci(k, n)
            rows.append((base, shell, delta, key.split("/")[-1], k, n, k / n, lo, hi))
    cols = ["base", "shell", "delta", "rate_name", "k", "n", "rate", "lo", "hi"]
    return pd.DataFrame(rows, columns=cols)


def delta_sweep_figure(stores: dict[str, list[xr.Dataset]]):
    """The MCN shell's rates against its search radius delta (units of the attack's
    eps), one panel per base model, from :func:`sweep_table`."""
    table = sweep_table(stores)
    if table.empty or not (table["shell"] != "base").any():
        raise ValueError("delta_sweep_figure: no MCN shells in the stores")
    bases = list(dict.fromkeys(table["base"]))
    fig, axes = plt.subplots(
        1, len(bases), figsize=(1.5 + 5.6 * len(bases), 4.6), squeeze=False, sharey=True,
        layout="constrained",
    )  # fmt: skip
    for ax, base in zip(axes[0], bases, strict=True):
        sub = table[table["base"] == base]
        for i, (name, (label, col, mk, ls)) in enumerate(SWEEP_RATES.items()):
            r = sub[sub["rate_name"] == name].sort_values("delta")
            dodge = 2 ** (0.04 * (i - 1.5))  # side by side, so overlapping bars stay visible
            ax.errorbar(
                r["delta"] * dodge, r["rate"], yerr=[r["rate"] - r["lo"], r["hi"] - r["rate"]],
                color=col, marker=mk, ls=ls, capsize=3, label=label, gid=name,
            )  # fmt: skip
        b = sub[sub["shell"] == "base"].iloc[0]
        ax.axhline(b["rate"], color=ATTACK_COLOR, ls=":", label="base attack on F", gid="base")
        ax.axvline(1.0, color="0.7", lw=0.8)
        ax.set_xscale("log", base=2)
        deltas = sorted(sub["delta"].dropna().unique())
        ax.set_xticks(deltas, [f"{d:.3g}" for d in deltas])
        ax.minorticks_off()
        ax.set_xlabel("delta of the MCN search / attack eps")
        ax.set_title(f"{BASE_NAMES.get(base, base)} (n = {int(b['n'])} points)", fontsize=10)
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("rate (pooled; Wilson 95%)")
    axes[0][-1].legend(fontsize=7, loc="center right")
    fig.suptitle("MCN shell: its search radius delta against the attack eps", fontsize=11)
    return fig


def draw_success(table: pd.DataFrame):
    """Draw :func:`success_table`: one panel per base model.

    Bars: mean over all batches and seeds; error bars: sd over seeds of the per-seed
    rates (when there are several seeds); dots: the per-batch rates (one colour per
    seed), so the spread between batches of the paper's size is visible. Retained
    accuracy is hatched (higher is better; for the other bars lower is better).
    """
    panels = table.attrs["panels"]
    bars = success_bars(table)
    n = len(panels)
    n_cats = max(len(_categories(p["shells"])) for p in panels.values())
    width = max(6.4, 0.62 * n_cats)  # x labels of ~4 characters a line side by side
    fig, axes = plt.subplots(
        1, n, figsize=(1.8 + width * n, 4.8), squeeze=False, sharey=True, layout="constrained"
    )
    handles: dict = {}
    n_seeds = max(p["n_runs"] for p in panels.values())
    colors = ["k"] if n_seeds <= 1 else sns.color_palette("colorblind", n_seeds)
    for ax, (base, panel) in zip(axes[0], panels.items(), strict=True):
        if not panel["n_runs"]:
            ax.set_axis_off()
            ax.set_title(f"{BASE_NAMES.get(base, base)}: no stores")
            continue
        shells = panel["shells"]
        cats = _categories(shells)
        df = table.loc[table["base"] == base, ["category", "seed", "batch", "value"]]
        df = df.reset_index(drop=True)
        labels = [c[1] for c in cats]
        panel_bars = bars[bars["base"] == base]
        for i, ((key, _, col, group), bar) in enumerate(
            zip(cats, panel_bars.itertuples(), strict=True)
        ):
            mean, sd, several = bar.mean, bar.sd, bar.n_seeds > 1
            acc = group == "accuracy"
            ax.bar(
                i,
                mean,
                width=0.7,
                color=col,
                alpha=0.35 if acc else (0.85 if "adaptive" in key else 0.5),
                hatch="//" if acc else None,
                edgecolor="k",
                linewidth=0.6,
                yerr=sd if several else None,
                capsize=3,
                zorder=1,
            )
            if np.isfinite(mean):
                top = min(mean + (sd if several else 0.0) + 0.02, 1.1)
                ax.text(i, top, f"{100 * mean:.0f}%", ha="center", va="bottom", fontsize=7)
        if not df.empty:
            sns.stripplot(
                data=df,
                x="category",
                y="value",
                order=labels,
                hue="seed",
                palette=colors[: panel["n_runs"]],
                ax=ax,
                size=3.5,
                jitter=0.18,
                alpha=0.8,
                legend=n_seeds > 1,
                zorder=3,
            )
        n_sep = sum(1 for c in cats if c[3] == "attack success")
        ax.axvline(n_sep - 0.5, color="0.6", lw=0.8, ls="--")
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_ylim(0, 1.15)
        ax.set_xlabel("")
        ax.set_ylabel("rate (attack success | retained accuracy)")
        ax.set_title(
            f"{BASE_NAMES.get(base, base)}\n{panel['n_runs']} seed(s) x {panel['n_points']} "
            f"correct points, L-inf eps = {panel['eps']:.4g}",
            fontsize=9,
        )
        if ax.get_legend() is not None:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
            ax.get_legend().remove()
    if handles:
        fig.legend(
            handles.values(),
            handles.keys(),
            title="seed\n(dots: batches)",
            fontsize=7,
            title_fontsize=7,
            loc="outside right upper",
        )
    fig.suptitle(
        "Model shells (Wu et al.): attack success on F and on F o H (transfer from F: wrong "
        "at x_adv, and wrong & changed from x, the paper's Table 1 criterion; adaptive BPDA) "
        "and clean accuracy kept",
        fontsize=10,
    )
    return fig


def _show(ax, img, title: str, wrong: bool) -> None:
    a = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    ax.imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7, color="tab:red" if wrong else "k")


def _cname(c, class_names) -> str:
    c = int(c)
    if class_names is not None and 0 <= c < len(class_names):
        return str(class_names[c])
    return f"class {c}"


def shell_gallery(store: xr.Dataset, shell: str, n_show: int, class_names=None):
    """The paper's Fig. 1/2: points the shell gets wrong (on x or on the base attack's
    x_adv), one row each, with columns x, H(x), x_adv, H(x_adv); each title gives F's
    prediction and confidence there (red where wrong). Falls back to the first points
    when the shell gets none wrong (the title says so)."""
    if shell not in [str(s) for s in store.shell.values]:
        raise ValueError(f"shell {shell!r} not in the store ({list(store.shell.values)})")
    s = store.sel(shell=shell)
    label = s.label.values
    wrong = (s.shell_clean_pred.values != label) | (s.shell_adv_pred.values != label)
    picked = np.flatnonzero(wrong)
    fallback = picked.size == 0
    if fallback:
        picked = np.arange(store.sizes["point"])
    picked = picked[: max(1, int(n_show))]
    nrow = len(picked)
    fig, axes = plt.subplots(nrow, 4, figsize=(7.6, 2.15 * nrow + 0.6), squeeze=False)
    # columns: (head, image var, prediction var, confidence var, distance var, its label)
    columns = (
        ("x", "image", "base_pred", "base_conf", None, ""),
        ("H(x)", "shell_clean_z", "shell_clean_pred", "shell_clean_conf", "shell_clean_dist", "d"),
        ("x_adv", "base_adv", "base_adv_pred", "base_adv_conf", "base_adv_linf", "|d|inf"),
        ("H(x_adv)", "shell_adv_z", "shell_adv_pred", "shell_adv_conf", "shell_adv_dist", "d"),
    )
    for r, i in enumerate(picked):
        y = label[i]
        for c, (head, img, pred, conf, dist, dname) in enumerate(columns):
            p = s[pred].values[i]
            if dist is None:
                head = f"{head} [{_cname(y, class_names)}]"
            else:
                head = f"{head}, {dname}={s[dist].values[i]:.3f}"
            title = f"{head}\n{_cname(p, class_names)} ({float(s[conf].values[i]):.2f})"
            _show(axes[r, c], s[img].values[i], title, p != y)
        axes[r, 0].set_ylabel(f"point {int(s.test_index.values[i])}", fontsize=7)
    head = f"{_sname(shell)} shell: "
    head += (
        "no point is wrong on x or x_adv; showing the first points"
        if fallback
        else f"points it gets wrong ({int(wrong.sum())} of {len(label)})"
    )
    fig.suptitle(head + "\ntitles: F's prediction (confidence); red = wrong", fontsize=9)
    fig.tight_layout()
    return fig
