import json
import warnings

import numpy as np
import pytest
import torch

from pipeline_lib import viz
from pipeline_lib.gallery import build_gallery
from pipeline_lib.metrics import merge_metrics, write_json
from pipeline_lib.studies.lowdim import plots as plotting
from pipeline_lib.studies.lowdim import registry as lowdim_registry
from pipeline_lib.studies.lowdim.experiment import run_experiment
from pipeline_lib.studies.lowdim.metrics import lowdim_metrics, summarize_lowdim
from pipeline_lib.studies.lowdim.synthetic import make_lowdim_dataset


@pytest.fixture(scope="module")
def runs():
    out = []
    for man in ("line", "plane"):
        data = make_lowdim_dataset(man, 3, 3, 3, 0.01, 0.1, 5, 0)
        for variant in ("clean", "adversarial"):
            for seed in (0, 1):
                ds, _ = run_experiment(
                    data,
                    variant=variant,
                    seed=seed,
                    hidden=64,
                    output_weights="sign",
                    epochs=3,
                    lr=5e-3,
                    weight_decay=0.01,
                    batch_size=8,
                    adversarial_eps=0.05,
                    snapshot_epochs=[0, 3],
                    res=11,
                    normal_steps=41,
                    device=torch.device("cpu"),
                    log=lambda s: None,
                )
                out.append((data, ds))
    return out


def test_summary_grid_and_values(runs):
    s = summarize_lowdim([r for _, r in runs])
    assert dict(s.sizes) == {"manifold": 2, "variant": 2, "seed": 2, "epoch": 2}
    # summary equals the mean over probes of the run it came from
    r = runs[0][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no boundary yet
        want = np.nanmean(r.probe_distance.values, axis=1)
    got = s.boundary_distance.sel(manifold="line", variant="clean", seed=0).values
    np.testing.assert_allclose(got, want)
    assert np.all((s.gradient_angle.values >= 0) & (s.gradient_angle.values <= 90))
    np.testing.assert_allclose(s.random_direction_angle.sel(manifold="line"), 45, atol=0.5)


def test_metrics_keys_and_stats(runs, tmp_path):
    s = summarize_lowdim([r for _, r in runs])
    m = lowdim_metrics(s)
    acc = m["dmm_lowdim/plane-clean/train_accuracy"]
    per = s.train_accuracy.sel(manifold="plane", variant="clean").isel(epoch=-1).values
    assert acc["per_seed"] == pytest.approx(per.tolist())
    assert acc["mean"] == pytest.approx(per.mean())
    assert acc["std"] == pytest.approx(per.std(ddof=1))
    assert "dmm_lowdim/line/dimple_depth_ratio_adversarial_over_clean" in m
    write_json(m, tmp_path / "a.json")
    write_json({"other/x/y": 1}, tmp_path / "b.json")
    merged = merge_metrics([tmp_path / "a.json", tmp_path / "b.json"])
    assert merged["other/x/y"] == 1 and len(merged) == len(m) + 1
    with pytest.raises(ValueError, match="defined twice"):
        merge_metrics([tmp_path / "a.json", tmp_path / "a.json"])


def test_figures_and_gallery(runs, tmp_path, test_cfg):
    s = summarize_lowdim([r for _, r in runs])
    line, plane = runs[0], runs[4]
    figs = {
        "dmm_lowdim_clinging": plotting.clinging_curves(s),
        "dmm_lowdim_boundary_2d": plotting.boundary_evolution_2d([line]),
        "dmm_lowdim_height_maps": plotting.height_maps(*plane),
        "dmm_lowdim_gradients": plotting.gradients([line, plane]),
        "dmm_lowdim_adversarial": plotting.compare_final(
            [(line[0], line[1], runs[2][1]), (plane[0], plane[1], runs[6][1])], "adversarial"
        ),
    }
    paths = []
    for name, fig in figs.items():
        p = tmp_path / f"{name}.png"
        viz.save(fig, p)
        paths.append(p)
    out = tmp_path / "figures"
    metrics = {
        "dmm_lowdim/plane-clean/dimple_depth": {
            "mean": 0.03,
            "std": 0.01,
            "n_seeds": 3,
            "per_seed": [0.02, 0.03, 0.04],
        },
        "dmm_lowdim/line-clean/train_accuracy": {
            "mean": None,
            "std": None,
            "n_seeds": 0,
            "per_seed": [None],
        },
    }
    declared = {f.name: f.gallery_entry() for f in lowdim_registry.figures(test_cfg)}
    entries = [declared[name] for name in figs]
    entries[2] = {**entries[2], "rule": "rule_x"}
    build_gallery(paths, entries, metrics, out)
    html = (out / "index.html").read_text()
    for name in figs:
        assert (out / f"{name}.png").stat().st_size > 5000
        assert f'id="{name}"' in html
    assert "DMM Fig. 3" in html
    assert json.loads((out / "metrics.json").read_text()) == metrics
    # key metrics under their figure, with mean ± sd, and the rule that made it
    hm = html.split('id="dmm_lowdim_height_maps"')[1].split("</figure>")[0]
    assert "plane-clean/dimple_depth" in hm and "0.03 ± 0.01 (n = 3)" in hm and "rule_x" in hm
    b2 = html.split('id="dmm_lowdim_boundary_2d"')[1].split("</figure>")[0]
    assert "line-clean/train_accuracy" in b2 and "n/a" in b2


def test_dmm_natural_captions_and_key_metrics(test_cfg):
    from pipeline_lib.gallery import key_metrics
    from pipeline_lib.studies.dmm import registry

    cfg = {**test_cfg, "dmm": {**test_cfg["dmm"], "datasets": ["mnist", "cifar10"]}}
    for d in ("mnist", "cifar10"):
        cfg["dmm"][d] = test_cfg["dmm"]["fashion_mnist"]
    figs = {f.name: f.gallery_entry() for f in registry.figures(cfg)}
    metrics = {
        "dmm_natural/mnist-clean/norm_ratio": {"mean": 2.0, "std": 0.1, "n_seeds": 2},
        "dmm_natural/mnist/sqrt_n_over_k": 7.0,
        "dmm_natural/cifar10-clean/norm_ratio": {"mean": 3.0, "std": 0.1, "n_seeds": 2},
        "dmm_natural/mnist-clean/test_accuracy": {"mean": 0.9, "std": 0.0, "n_seeds": 2},
    }
    assert figs["dmm_mnist_ratios"]["caption"].startswith("mnist: DMM Table 1")
    keys = [k for k, _ in key_metrics(figs["dmm_mnist_ratios"], metrics)]
    assert keys == ["dmm_natural/mnist-clean/norm_ratio", "dmm_natural/mnist/sqrt_n_over_k"]
    assert [k for k, _ in key_metrics(figs["dmm_mnist_clinging"], metrics)] == [
        "dmm_natural/mnist-clean/test_accuracy"
    ]


def test_metrics_long_form_keeps_single_numbers_with_their_spread():
    from pipeline_lib.metrics import long_form, tsv_text

    metrics = {
        "dmm_natural/mnist-clean/norm_ratio": {"mean": 2.0, "std": 0.1, "n_seeds": 3},
        "dmm_natural/mnist/sqrt_n_over_k": 7.0,
        "dmm_lowdim/line-clean/clinging_curve": {"epoch": [0, 1], "mean": [0.1, 0.2]},
        "tilting/toy-2d/note": "text",
        "data/mnist/n_train": 60,
    }
    rows = long_form(metrics)
    assert [r["key"] for r in rows] == [
        "data/mnist/n_train",
        "dmm_natural/mnist-clean/norm_ratio",
        "dmm_natural/mnist/sqrt_n_over_k",
    ]
    ratio = rows[1]
    assert (ratio["experiment"], ratio["run"], ratio["metric"]) == (
        "dmm_natural",
        "mnist-clean",
        "norm_ratio",
    )
    assert (ratio["value"], ratio["sd"], ratio["n"]) == (2.0, 0.1, 3)
    lines = tsv_text(rows).splitlines()
    assert lines[0].split("\t") == ["key", "experiment", "run", "metric", "value", "sd", "n"]
    assert lines[1].split("\t") == ["data/mnist/n_train", "data", "mnist", "n_train", "60", "", ""]
    assert len(lines) == 1 + len(rows)


def test_gallery_opens_with_the_verdicts_and_links_figures_to_their_claims(tmp_path):
    """A claims record beside the figures: the verdict summary and contents come first,
    each figure links to the claims it shows, the claims page links back, and every link
    and image of both pages resolves."""
    from html_links import assert_links_resolve

    from pipeline_lib import ledger_page
    from pipeline_lib.ledger import NO_CONTROL, Claim, Evidence, EvidenceContext
    from pipeline_lib.verdicts import judge, summary

    rng = np.random.default_rng(0)
    claims = [
        Claim(
            id=f"toy.claim{i}",
            paper=paper,
            location="Fig. 1",
            statement="s",
            metric="m",
            metric_keys=(),
            control=NO_CONTROL,
            unit="seeds",
            test="t",
            direction="greater",
            figure=figure,
            evidence=lambda ctx, i=i: Evidence(rng.normal(i - 1, 0.1, 5), 0.0),
        )  # fmt: skip
        for i, (paper, figure) in enumerate(
            [("dmm", "fig_a"), ("dmm", "fig_b"), ("squiggles", "fig_b")]
        )
    ]
    results = [judge(c, EvidenceContext({}, {})) for c in claims]
    assert [r["verdict"] for r in results] == ["does not reproduce", "inconclusive", "reproduces"]
    record = {"config": "c.yaml", "commit": "abc", "scale": {}, "summary": summary(results)}
    record["claims"] = results
    src = tmp_path / "src"
    src.mkdir()
    paths = []
    for name in ("fig_a", "fig_b"):
        fig = viz.plt.figure()
        fig.gca().plot([0, 1])
        paths.append(src / f"{name}.png")
        viz.save(fig, paths[-1])
    ledger_page.write_json(record, src / "claims.json")
    ledger_page.write_text(ledger_page.claims_tsv(record), src / "claims.tsv")
    ledger_page.write_text(ledger_page.claims_html(record, ["fig_a", "fig_b"]), src / "claims.html")
    entries = [
        {"name": "fig_a", "rule": "r", "caption": "a", "references": ["dmm"]},
        {"name": "fig_b", "rule": "r", "caption": "b", "references": []},
    ]
    out = tmp_path / "figures"
    files = {n: src / n for n in ("claims.json", "claims.tsv", "claims.html")}
    build_gallery(paths, entries, {}, out, claims=files)
    page = (out / "index.html").read_text()
    assert page.index("Verdicts") < page.index("Contents") < page.index('id="fig_a"')
    fb = page.split('id="fig_b"')[1].split("</figure>")[0]
    assert "claims.html#toy.claim1" in fb and "claims.html#toy.claim2" in fb
    assert "toy.claim0" not in fb
    assert_links_resolve(out, "index.html", "claims.html")
    claims_page = (out / "claims.html").read_text()
    assert "index.html#fig_b" in claims_page and "paper-squiggles" in claims_page
