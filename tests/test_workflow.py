"""End-to-end: the whole DAG on config/test.yaml in a temporary directory, then
dry runs that check what a rerun or a config edit would execute."""

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from e2e import COPY, assert_same_model, assert_same_store, copy_workflow
from html_links import assert_links_resolve

from pipeline_lib import checkpoints
from pipeline_lib.resources import available_cpus

pytestmark = pytest.mark.slow

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def smk(workdir: Path, *args: str, configfile: str = "config/test.yaml", check=True):
    cmd = [SNAKEMAKE, *args, "--configfile", configfile]
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1800)
    if check and res.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return res


def planned_jobs(output: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n\s*\n", output):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not m:
            continue
        wc = re.search(r"^\s+wildcards: (.+)$", block, re.M)
        wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
        jobs.append((m.group(1), wildcards))
    return jobs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, root):
    wd = copy_workflow(root, tmp_path_factory.mktemp("workflow"))
    smk(wd, "--cores", "2", "figures/")
    return wd


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory, root):
    """The test config up to the verdicts (every store, checkpoint and metrics file; the
    figures are left out) on 2 cores: the determinism test's first run (make test-long,
    a pytest session of its own, does not rebuild ``workdir``'s figures for it)."""
    wd = copy_workflow(root, tmp_path_factory.mktemp("workflow_claims"))
    smk(wd, "--cores", "2", "results/claims/claims.json")
    return wd


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, root):
    """The same config again in another directory, up to the verdicts, asking for more
    cores than the machine has (8): the determinism and the resources tests read it."""
    wd = copy_workflow(root, tmp_path_factory.mktemp("workflow_again"))
    res = smk(wd, "--cores", "8", "results/claims/claims.json")
    return wd, res.stdout + res.stderr


@pytest.fixture(scope="module")
def test_config(root):
    return yaml.safe_load((root / "config" / "test.yaml").read_text())


def test_gallery(workdir, test_config):
    fig = workdir / "figures"
    pngs = sorted(p.stem for p in fig.glob("*.png"))
    expected = (
        {
            "dmm_lowdim_clinging",
            "dmm_lowdim_boundary_2d",
            "dmm_lowdim_height_maps",
            "dmm_lowdim_gradients",
            "dmm_lowdim_adversarial",
            "dmm_lowdim_random_labels",
            "data_fashion_mnist_samples",
        }
        | {
            f"dmm_fashion_mnist_{w}"
            for w in (
                "autoencoder",
                "ratios",
                "projections",
                "onoff",
                "clinging",
                "adv_training",
                "mislabeled",
                "linf_l2",
            )
        }
        | {f"tilting_fashion_mnist_{w}" for w in ("angle", "plane", "rotation", "perturbation")}
        | {
            "tilting_toy",
            "shells_fashion_mnist_success",
        }
        | {
            f"shells_fashion_mnist_{b}_{s}_gallery"
            for b in ("clean", "linf_adv")
            for s in ("mcn", "ncn")
        }
        | {f"squiggles_{v}_examples" for v in ("taylor", "sinenet")}
        | {"squiggles_generalization"}
        | {
            f"squiggles_sinenet_{w}"
            for w in ("latent", "distance", "pixel", "decomposition", "errors", "attack_vectors")
        }
    )
    assert expected <= set(pngs)
    for p in fig.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    html = (fig / "index.html").read_text()
    for name in expected:
        assert f'src="{name}.png"' in html
    assert "DMM Fig. 5a" in html and "figcaption" in html
    # the registries declare exactly the gallery's figures, and every key-metric pattern
    # of every figure selects at least one number of this run (no stale pattern)
    from pipeline_lib.config import check_config
    from pipeline_lib.studies import all_figures

    figs = all_figures(check_config(test_config, workdir / "config/schema.yaml"))
    assert {f.name for f in figs} == set(pngs)
    metrics = json.loads((fig / "metrics.json").read_text())
    for f in figs:
        for pattern in f.key_metrics:
            assert any(re.search(pattern, k) for k in metrics), (f.name, pattern)
    # the numbers in long form, and every store of the run as one tree for notebooks
    rows = (fig / "metrics.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["key", "experiment", "run", "metric", "value", "sd", "n"]
    keys = {r.split("\t")[0] for r in rows[1:]}
    assert keys and keys <= set(metrics) and "dmm_lowdim/line-clean/gradient_angle_deg" in keys
    import pipeline_lib

    tree = pipeline_lib.open_results(workdir / "results")
    leaves = {node.path for node in tree.subtree if node.has_data}
    stores = {
        "/" + p.relative_to(workdir / "results").with_suffix("").as_posix()
        for p in (workdir / "results").rglob("*.zarr")
    }
    assert leaves == stores and len(leaves) >= 50
    assert "DMM Table 2" in html and "dmm_natural/fashion_mnist-clean/norm_ratio" in html
    assert "Tilting article Fig. 6" in html and "tilting/fashion_mnist/tilting_angle_deg" in html
    assert "Wu et al. Table 1" in html and "shells/fashion_mnist-clean/" in html
    assert "Squiggles Fig. 9" in html and "squiggles/sinenet/latent_min_accuracy" in html


def test_claims_ledger(workdir, test_config):
    """claims.json on test.yaml: every registered claim judged, every field filled, every
    metric a claim names present in the run; the pages' links and images resolve."""
    from pipeline_lib.config import check_config
    from pipeline_lib.ledger import VERDICTS
    from pipeline_lib.studies.ledger import all_claims

    fig = workdir / "figures"
    record = json.loads((fig / "claims.json").read_text())
    assert record["config"] == "config/test.yaml" and record["commit"]
    assert record["scale"]["lowdim"]["seeds"] == len(test_config["lowdim"]["seeds"])
    declared = all_claims(check_config(test_config, workdir / "config/schema.yaml"))
    got = {r["id"]: r for r in record["claims"]}
    assert list(got) == [c.id for c in declared] and len(got) >= 35
    metrics = json.loads((fig / "metrics.json").read_text())
    fields = ("statement", "location", "metric", "control", "unit", "test", "decision_rule")
    for c in declared:
        r = got[c.id]
        assert r["verdict"] in VERDICTS, c.id
        assert all(r[f] for f in fields), c.id
        if r["verdict"] == "not testable here":
            assert r["reason"], c.id
            continue
        assert c.figure in {p.stem for p in fig.glob("*.png")}, (c.id, c.figure)
        assert c.metric_keys and all(k in metrics for k in c.metric_keys), c.id
        # the tiny test models leave some groups empty (e.g. no adversarial error): then
        # the claim is inconclusive and says why
        assert (r["n"] >= 1 and r["estimate"] is not None) or r["reason"], c.id
        if r["verdict"] in ("reproduces", "does not reproduce"):
            lo, hi = r["effect_ci"]
            assert lo is not None and lo <= r["effect"] <= hi, c.id
    counts = sum(sum(v.values()) for v in record["summary"].values())
    assert counts == len(got)
    tsv = (fig / "claims.tsv").read_text().splitlines()
    assert len(tsv) == len(got) + 1 and tsv[0].startswith("id\tpaper")
    assert_links_resolve(fig, "index.html", "claims.html")
    index = (fig / "index.html").read_text()
    assert "Verdicts" in index and "Contents" in index and 'href="claims.html#' in index


def test_metrics_are_sane(workdir, test_config):
    m = json.loads((workdir / "figures" / "metrics.json").read_text())
    low = test_config["lowdim"]
    n_seeds = len(low["seeds"])
    for man in low["manifolds"]:
        for v in low["variants"]:
            key = f"dmm_lowdim/{man}-{v}"
            acc = m[f"{key}/train_accuracy"]
            assert acc["n_seeds"] == n_seeds and 0 <= acc["mean"] <= 1
            ang = m[f"{key}/gradient_angle_deg"]
            assert 0 <= ang["mean"] <= 90
            curve = m[f"{key}/clinging_curve"]
            assert curve["epoch"] == sorted(low["snapshot_epochs"])
            assert all(d is None or 0 <= d <= np.sqrt(3) for d in curve["mean"])
        rnd = m[f"dmm_lowdim/{man}/random_direction_angle_deg"]
        assert 25 < rnd < 50
    assert m["data/fashion_mnist/n_train"] == test_config["natural"]["fashion_mnist"]["n_train"]


def assert_identifies_run(prov: dict, workdir: Path, path: Path) -> None:
    """The provenance fields that identify the run: git describe of the checkout (the
    copy is a one-commit checkout, clean in tracked files), the lock's digest, the
    installed environment's digest, and the code digest of the rule that wrote it."""
    describe = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=workdir, capture_output=True, text=True
    ).stdout.strip()
    assert prov["git_describe"] == describe and "git_diff_sha256" not in prov, path
    lock = (workdir / "requirements" / "default.lock").read_bytes()
    assert prov["lock_sha256"] == hashlib.sha256(lock).hexdigest(), path
    assert re.fullmatch(r"[0-9a-f]{64}", prov["environment_sha256"]), path
    assert re.fullmatch(r"[0-9a-f]{16}", prov["code_digest"]), path


def test_every_store_follows_the_contract(workdir):
    stores = sorted((workdir / "results").rglob("*.zarr"))
    assert len(stores) >= 1 + 3 + 18 + 1
    for p in stores:
        ds = xr.open_zarr(p)
        assert ds.attrs["description"], p
        prov = ds.attrs["provenance"]
        assert isinstance(prov["config"], dict) and prov["config"], p
        assert "torch" in prov["packages"] and "xarray" in prov["packages"], p
        assert prov["git_commit"] and prov["device"] in ("cpu", "cuda"), p
        assert prov["wall_time_s"] >= 0, p
        assert_identifies_run(prov, workdir, p)
        for name, v in ds.data_vars.items():
            assert v.attrs.get("description"), (p, name)
        assert all(d for d in ds.dims), p
    run = xr.open_zarr(workdir / "results/lowdim/plane/clean/seed0/boundary.zarr")
    assert run.grid_logit.dims == ("epoch", "grid_0", "grid_1", "grid_2")
    assert run.gradient_angle.attrs["units"] == "degree"
    assert run.attrs["provenance"]["device"] == "cpu"
    assert not list((workdir / "results").rglob("*.tmp-*"))
    ckpts = sorted((workdir / "results").rglob("*.pt"))
    assert len(ckpts) >= 10
    for p in ckpts:
        prov = checkpoints.load(p)["provenance"]  # weights_only=True
        assert prov["config"] and prov["git_commit"] and prov["wall_time_s"] >= 0, p
        assert prov["device"] in ("cpu", "cuda"), p
        assert_identifies_run(prov, workdir, p)


def test_noop_rerun(workdir):
    res = smk(workdir, "-n", "figures/")
    assert "Nothing to be done" in res.stdout + res.stderr, res.stdout[-2000:]


def _edited(workdir, test_config, path, value):
    cfg = json.loads(json.dumps(test_config))
    node = cfg
    for k in path[:-1]:
        node = node.setdefault(k, {})
    node[path[-1]] = value
    out = workdir / f"edited_{'_'.join(path)}.yaml"
    out.write_text(yaml.safe_dump(cfg))
    return str(out)


def test_edit_attack_strength_reruns_only_adversarial_runs(workdir, test_config):
    cfg = _edited(workdir, test_config, ["lowdim", "adversarial", "eps"], 0.05)
    res = smk(workdir, "-n", "figures/", configfile=cfg)
    jobs = planned_jobs(res.stdout)
    rules = {r for r, _ in jobs}
    assert rules == {"lowdim_train", "lowdim_summary", "figure_lowdim", "claims", "gallery"}, rules
    figs = {w["figure"] for r, w in jobs if r == "figure_lowdim"}
    assert figs == {"dmm_lowdim_adversarial", "dmm_lowdim_clinging", "dmm_lowdim_separation"}
    trains = [w for r, w in jobs if r == "lowdim_train"]
    low = test_config["lowdim"]
    assert len(trains) == len(low["manifolds"]) * len(low["seeds"])
    assert {w["variant"] for w in trains} == {"adversarial"}


def test_ablations_touch_no_default_job(workdir, test_config):
    """config/test.yaml switches every ablation on (tiny); without them, the plan is only
    the verdicts and the gallery (their inputs lose the ablations' metrics): no default
    job reads an ablation key, so `make ablations` on top of `make figures` reruns none."""
    cfg = json.loads(json.dumps(test_config))
    dropped = [s for s in ("lowdim", "dmm", "squiggles") if cfg[s].pop("ablations", None)]
    assert dropped == ["lowdim", "dmm", "squiggles"], "config/test.yaml should run every ablation"
    out = workdir / "no_ablations.yaml"
    out.write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=str(out)).stdout)
    assert {r for r, _ in jobs} == {"claims", "gallery"}, _summary(jobs)


def test_edit_natural_subset_reruns_only_its_branch(workdir, test_config):
    cfg = _edited(workdir, test_config, ["natural", "fashion_mnist", "n_train"], 90)
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    rules = {r for r, _ in jobs}
    assert {"natural_dataset", "figure_natural_samples", "gallery", "dmm_classifier"} <= rules
    assert not any(r.startswith(("lowdim", "figure_lowdim")) for r in rules), rules


def test_edit_dmm_attack_reruns_only_attacks_and_their_figures(workdir, test_config):
    cfg = _edited(workdir, test_config, ["dmm", "fashion_mnist", "attack"], {"eps": 1.5})
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    # the attacks, the controls read from their stores, the manifold ablation's attacks
    # (the same attack settings on other tangent bases), their summaries and figures
    assert {r for r, _ in jobs} == {
        "dmm_attacks",
        "dmm_controls",
        "dmm_summary",
        "figure_dmm",
        "dmm_ablation_attacks",
        "dmm_ablation_summary",
        "figure_dmm_ablation",
        "claims",
        "gallery",
    }, _summary(jobs)
    dmm = test_config["dmm"]
    attacks = [w for r, w in jobs if r == "dmm_attacks"]
    assert len(attacks) == 3 * len(dmm["seeds"])
    assert {w["variant"] for w in attacks} == {"clean", "adversarial", "noise"}
    figs = {w["figure"] for r, w in jobs if r == "figure_dmm"}
    kinds = ("ratios", "projections", "onoff", "adv_training", "linf_l2", "controls")
    assert figs == {f"dmm_fashion_mnist_{k}" for k in kinds}


def test_dmm_metrics_and_stores(workdir, test_config):
    m = json.loads((workdir / "figures" / "metrics.json").read_text())
    dmm = test_config["dmm"]
    n_seeds = len(dmm["seeds"])
    for v in dmm["variants"]:
        acc = m[f"dmm_natural/fashion_mnist-{v}/test_accuracy"]
        assert acc["n_seeds"] == n_seeds and 0 <= acc["mean"] <= 1
        curve = m[f"dmm_natural/fashion_mnist-{v}/boundary_distance_curve"]
        assert curve["epoch"] == list(range(dmm["fashion_mnist"]["classifier"]["epochs"] + 1))
    for s in dmm["mislabeled"]["schemes"]:
        assert 0 <= m[f"dmm_natural/fashion_mnist-mislabeled_{s}/n2_test_accuracy"]["mean"] <= 1
    assert m["dmm_natural/fashion_mnist/k"] == dmm["fashion_mnist"]["autoencoder"]["k"]
    tg = xr.open_zarr(workdir / "results/dmm/fashion_mnist/tangents.zarr")
    assert tg.basis.dims == ("sample", "tangent", "feature")
    assert tg.sizes["sample"] == dmm["n_samples"] and tg.sizes["feature"] == 784
    assert float(tg.fd_min_cosine.min()) > 0.9
    st = xr.open_zarr(workdir / "results/dmm/fashion_mnist/clean/seed0/attacks.zarr")
    assert list(st.attack.values) == ["regular", "on", "off"]
    from pipeline_lib.models import load_model
    from pipeline_lib.studies.dmm.experiment import load_checkpoint

    run = workdir / "results/dmm/fashion_mnist/clean/seed0"
    assert load_model(run / "model.pt").training is False
    final = load_model(run / "model.pt")
    last = load_checkpoint(run / "checkpoints.pt", dmm["fashion_mnist"]["classifier"]["epochs"])
    x = torch.as_tensor(tg.image.values[:4]).reshape(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(last(x), final(x))  # the last checkpoint is the saved model
    # the controls: per attacked image, random-subspace on/off attacks and the clipped
    # uniform baseline; the Sec. 5.2 similarity of N1 and N2 beside two clean networks
    ct = xr.open_zarr(run / "controls.zarr")
    assert list(ct.attack.values) == ["on", "off"]
    assert (ct.sample.values == st.sample.values).all()
    share = ct.l2_uniform_object_share.values
    assert np.isfinite(share).any() and ((share >= 0) & (share <= 1))[np.isfinite(share)].all()
    for s in dmm["mislabeled"]["schemes"]:
        for who in ("n2", "baseline"):
            agree = m[f"dmm_natural/fashion_mnist-mislabeled_{s}/{who}_agreement_clean"]
            assert 0 <= agree["mean"] <= 1
    # the ablations of test.yaml ran, with their own metrics files
    for path, prefix in (
        ("results/dmm/fashion_mnist/ablations/metrics.json", "dmm_ablation/"),
        ("results/lowdim/ablations/metrics.json", "dmm_lowdim_ablation/"),
    ):
        keys = json.loads((workdir / path).read_text())
        assert keys and all(k.startswith(prefix) for k in keys), path


def test_edit_3d_grid_reruns_only_plane_runs(workdir, test_config):
    cfg = _edited(workdir, test_config, ["lowdim", "grid", "res_3d"], 15)
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    trains = [w for r, w in jobs if r == "lowdim_train"]
    assert trains and {w["manifold"] for w in trains} == {"plane"}
    assert "lowdim_dataset" not in {r for r, _ in jobs}


# ---------------------------------------------------------------- code-aware reruns


def _script_rules(root: Path) -> dict[str, str]:
    """rule -> its script's file name, read from the rule files."""
    out = {}
    for _, rule, body in _rule_bodies(root):
        m = re.search(r'^\s+script:\s+"\.\./scripts/(\w+\.py)"', body, re.M)
        if m:
            out[rule] = m.group(1)
    return out


def _rules_loading(wd: Path, module: str) -> set[str]:
    """Rules whose script loads ``pipeline_lib.<module>``, directly or through other
    modules, by the standard library's ModuleFinder (the bytecode's imports, an oracle
    independent of the AST walk that computes the code digests)."""
    import modulefinder

    rules = set()
    for rule, script in _script_rules(wd).items():
        finder = modulefinder.ModuleFinder(path=[str(wd / "src")])
        finder.run_script(str(wd / "scripts" / script))
        if f"pipeline_lib.{module}" in finder.modules:
            rules.add(rule)
    return rules


def _function_node(path: Path, name: str) -> ast.FunctionDef:
    return next(
        n for n in ast.walk(ast.parse(path.read_text())) if getattr(n, "name", None) == name
    )


def _edit_function_body(path: Path, name: str, statement: str) -> None:
    """Insert ``statement`` as the first statement of function ``name`` (after its
    docstring): a change to the code that runs."""
    node = _function_node(path, name)
    first = node.body[1] if ast.get_docstring(node) else node.body[0]
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(first.lineno - 1, " " * first.col_offset + statement + "\n")
    path.write_text("".join(lines))


def _edit_docs_only(path: Path, name: str) -> None:
    """Reword function ``name``'s docstring, add a comment and a blank line to its body:
    nothing that can change a result."""
    node = _function_node(path, name)
    doc = node.body[0]
    lines = path.read_text().splitlines(keepends=True)
    indent = " " * doc.col_offset
    first = node.body[1]
    lines.insert(first.lineno - 1, f"{indent}# a new comment\n\n")
    lines[doc.lineno - 1 : doc.end_lineno] = [f'{indent}"""Reworded: changes no result."""\n']
    path.write_text("".join(lines))


def _job_set(output: str) -> set[tuple[str, tuple]]:
    return {(r, tuple(sorted(w.items()))) for r, w in planned_jobs(output)}


@pytest.fixture
def edited_copy(workdir, tmp_path):
    """A fresh copy of the finished run: results and Snakemake's metadata hard-linked
    (a dry run only reads them), the workflow's files and library really copied."""
    wd = tmp_path / "wf"
    shutil.copytree(workdir, wd, symlinks=True, copy_function=os.link)
    for name in COPY:
        if (wd / name).is_dir():
            shutil.rmtree(wd / name)
            shutil.copytree(workdir / name, wd / name, symlinks=True)
    return wd


def _reruns_after_code_edit(wd: Path, module: str, function: str, statement: str) -> set:
    """Add ``statement`` to ``function`` of ``pipeline_lib.<module>``; assert that a dry
    run plans exactly what forcing the rules that load the module plans (those rules'
    jobs and everything downstream of them), print and return that job set."""
    path = wd / "src/pipeline_lib" / (module.replace(".", "/") + ".py")
    _edit_function_body(path, function, statement)
    got = _job_set(smk(wd, "-n", "figures/").stdout)
    rules = sorted(_rules_loading(wd, module))
    assert rules, module
    expected = _job_set(smk(wd, "-n", "figures/", "--forcerun", *rules).stdout)
    print(f"{module}.{function} edited: {_summary(got)}")
    assert got == expected, (sorted(got - expected), sorted(expected - got))
    return got


def _summary(jobs) -> str:
    counts = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return f"{len(jobs)} jobs: " + ", ".join(f"{r} {c}" for r, c in sorted(counts.items()))


def test_code_edit_in_attacks_reruns_exactly_its_importers(edited_copy):
    wd = edited_copy
    assert "Nothing to be done" in smk(wd, "-n", "figures/").stdout  # the copy is up to date
    rules = {r for r, _ in _reruns_after_code_edit(wd, "attacks", "pgd", "unused_by_test = 0")}
    assert "dmm_attacks" in rules and "lowdim_train" in rules
    assert not {r for r in rules if r.endswith("_dataset")}, rules  # no dataset job
    # figures whose inputs did not change and whose scripts do not load attacks
    assert not rules & {"figure_natural_samples", "figure_tilting"}
    # Snakemake's own summary names the outputs whose params (the code digest) changed:
    # exactly those of the rules that load attacks
    rows = [line.split("\t") for line in smk(wd, "--summary", "figures/").stdout.splitlines()]
    changed = {row[2] for row in rows if len(row) > 4 and row[4] == "params changed"}
    in_dag = {row[2] for row in rows[1:] if len(row) > 4}  # test.yaml lacks e.g. ImageNet's
    assert changed == _rules_loading(wd, "attacks") & in_dag, changed
    assert "dmm_pretrained" in _rules_loading(wd, "attacks")  # loads it, runs only for ImageNet


def test_docstring_and_comment_edit_reruns_nothing(edited_copy):
    wd = edited_copy
    path = wd / "src/pipeline_lib/attacks.py"
    before = path.read_text()
    _edit_docs_only(path, "pgd")
    assert path.read_text() != before
    res = smk(wd, "-n", "figures/")
    assert "Nothing to be done" in res.stdout + res.stderr, _summary(_job_set(res.stdout))


def test_plot_edit_reruns_only_its_figures_and_the_gallery(edited_copy):
    wd = edited_copy
    edit = ("studies.tilting.plots", "angle_figure", "_k = 1")
    rules = {r for r, _ in _reruns_after_code_edit(wd, *edit)}
    assert "gallery" in rules and "figure_tilting" in rules
    assert all(r.startswith("figure_") or r == "gallery" for r in rules), rules


def test_bad_config_stops_before_any_job(workdir, test_config):
    cfg = _edited(workdir, test_config, ["lowdim", "train", "epohcs"], 5)
    res = smk(workdir, "-n", "figures/", configfile=cfg, check=False)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "lowdim.train.epohcs" in out and "did you mean 'lowdim.train.epochs'" in out
    assert not planned_jobs(res.stdout)


def test_tilting_and_shells_metrics_and_stores(workdir, test_config):
    m = json.loads((workdir / "figures" / "metrics.json").read_text())
    til = test_config["tilting"]
    key = "tilting/fashion_mnist"
    assert m[f"{key}/n_lam"] == til["lambdas"]["n"]
    assert m[f"{key}/all_converged"] is True
    for end in ("low_reg", "high_reg"):
        assert 0 <= m[f"{key}/tilting_angle_deg_{end}"] <= 90
        assert -1 <= m[f"{key}/perturbation_cosine_{end}"] <= 1
    assert len(m[f"{key}/per_lam"]) == til["lambdas"]["n"]
    assert 0 <= m["tilting/toy-highdim-low_reg/tilting_angle_deg"] <= 90
    assert m["tilting/toy-highdim/n_features"] == til["toy"]["n_dims"]
    sweep = xr.open_zarr(workdir / "results/tilting/fashion_mnist/sweep.zarr")
    assert sweep.sizes["lam"] == til["lambdas"]["n"] and sweep.sizes["feature"] == 784
    assert sweep.attrs["classes"] == til["fashion_mnist"]["classes"]
    # the bootstrap over training sets: one Spearman rho per resample, bands in Fig. 6
    boot = xr.open_zarr(workdir / "results/tilting/fashion_mnist/bootstrap.zarr")
    assert boot.sizes["replicate"] == til["bootstrap"] and bool(boot.converged.all())
    rho = m[f"{key}/bootstrap_angle_spearman_log_lam"]
    assert len(rho["per_seed"]) == til["bootstrap"] and -1 <= rho["mean"] <= 1

    sh = test_config["shells"]
    n_points = sh["n_batches"] * sh["batch_size"]
    for base in sh["bases"]:
        pre = f"shells/fashion_mnist-{base}"
        assert m[f"{pre}/n_points"] == n_points
        rate = m[f"{pre}/base_attack_success_rate"]
        assert rate["n_seeds"] == len(sh["seeds"]) and 0 <= rate["mean"] <= 1
        for s in sh["shells"]:
            for what in ("transfer_success_rate", "adaptive_success_rate", "retained_accuracy"):
                assert 0 <= m[f"{pre}/{s}_{what}"]["mean"] <= 1
        ev = xr.open_zarr(workdir / f"results/shells/fashion_mnist/{base}/seed0/evaluation.zarr")
        sweep = [f"mcn-d{f:g}" for f in sh.get("mcn_delta_factors", [])]
        assert ev.sizes["point"] == n_points and list(ev.shell.values) == sh["shells"] + sweep
        assert bool((ev.base_pred == ev.label).all())  # correctly classified points only
        assert float(ev.base_adv_linf.max()) <= ev.attrs["eps"] + 1e-6
        assert float(ev.adaptive_linf.max()) <= ev.attrs["eps"] + 1e-6
    # the clean base reuses the DMM clean classifier (same settings in test.yaml)
    assert not (workdir / "results/shells/fashion_mnist/clean/seed0/model.pt").exists()
    ev = xr.open_zarr(workdir / "results/shells/fashion_mnist/clean/seed0/evaluation.zarr")
    assert ev.attrs["provenance"]["config"]["model"].startswith("results/dmm/fashion_mnist/clean")


def test_edit_shell_search_reruns_only_evaluations(workdir, test_config):
    cfg = _edited(workdir, test_config, ["shells", "fashion_mnist", "mcn"], {"steps": 4})
    sh = test_config["shells"]
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    assert {r for r, _ in jobs} == {
        "shells_evaluate", "shells_summary", "figure_shells", "claims", "gallery"
    }  # fmt: skip
    figs = {w["figure"] for r, w in jobs if r == "figure_shells"}
    sweep = 1 if sh.get("mcn_delta_factors") else 0  # the sweep's shells are MCN's too
    assert "shells_fashion_mnist_success" in figs
    assert len(figs) == 1 + sweep + len(sh["bases"]) * len(sh["shells"])
    assert len([1 for r, _ in jobs if r == "shells_evaluate"]) == len(sh["bases"]) * len(
        sh["seeds"]
    )


def test_edit_tilting_sweep_reruns_only_tilting(workdir, test_config):
    cfg = _edited(workdir, test_config, ["tilting", "lambdas"], {"min": 0.01, "max": 1.0, "n": 2})
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    assert {r for r, _ in jobs} == {
        "tilting_sweep", "tilting_bootstrap", "tilting_summary", "figure_tilting", "claims",
        "gallery"
    }  # fmt: skip


def test_edit_dmm_classifier_gives_the_clean_shell_base_its_own_training(workdir, test_config):
    cfg = _edited(workdir, test_config, ["dmm", "fashion_mnist", "classifier"], {"epochs": 2})
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    bases = {w["base"] for r, w in jobs if r == "shells_base"}
    assert bases == {"clean"}  # no longer equal to shells' classifier: trained on its own


def test_squiggles_metrics_and_stores(workdir, test_config):
    sq = test_config["squiggles"]
    m = json.loads((workdir / "figures" / "metrics.json").read_text())
    for v in sq["variants"]:
        data = xr.open_zarr(workdir / f"results/squiggles/data/{v}-test.zarr")
        assert data.sizes["sample"] == sq["n_test"] and data.sizes["row"] == sq["resolution"]
        frac = m[f"squiggles/{v}/test_self_intersecting_fraction"]
        assert frac == pytest.approx(float(data["label"].mean()))
        other = "taylor" if v == "sinenet" else "sinenet"
        for name in ("test_accuracy", f"cross_{other}_accuracy", "test_roc_auc"):
            assert 0 <= m[f"squiggles/{v}-sigma0/{name}"]["mean"] <= 1
    v, n = "sinenet", sq["attack"]["n_samples"]
    assert len(m[f"squiggles/{v}/latent_accuracy_per_eps"]) == len(sq["attack"]["latent_eps"])
    assert m[f"squiggles/{v}/distance_all_n"] == n * len(sq["seeds"])
    for g in ("0", "0.08"):
        assert 0 <= m[f"squiggles/{v}-sigma{g}/pixel_pgd_accuracy_at_focus"]["mean"] <= 1
        px = xr.open_zarr(workdir / f"results/squiggles/{v}/sigma{g}/seed0/pixel.zarr")
        assert px.sizes["sample"] == n
        assert px.attrs["focus_eps"] == m[f"squiggles/{v}-sigma{g}/focus_eps"]
    lat = xr.open_zarr(workdir / f"results/squiggles/{v}/seed0/latent.zarr")
    assert (lat["latent_norm"] <= lat["eps"] + 1e-4).all()
    dec = xr.open_zarr(workdir / f"results/squiggles/{v}/seed0/decomposition.zarr")
    assert list(dec["attack"].values) == ["latent", "pixel_sigma0", "pixel_sigma0.08"]
    assert ((dec["on_share"] >= 0) & (dec["on_share"] <= 1 + 1e-6) | dec["on_share"].isnull()).all()
    # progress bars end up in the jobs' logs
    train_log = (workdir / "logs/squiggles_train/sinenet-sigma0-seed0.log").read_text()
    assert "epoch 1/" in train_log and "100%" in train_log
    assert "latent PGD" in (workdir / "logs/squiggles_latent/sinenet-seed0.log").read_text()
    lowdim_logs = list((workdir / "logs/lowdim_train").glob("*.log"))
    assert lowdim_logs and "low-dim training (epochs)" in lowdim_logs[0].read_text()
    # the other variant trains sigma 0 and its steering models only; one distance store
    # per steering model, the attacked curves and more
    steer = [f"{float(g):g}" for g in sq["distance"]["steering"]]
    trained = {p.name for p in (workdir / "results/squiggles/taylor").glob("sigma*")}
    assert trained == {f"sigma{g}" for g in ["0", *steer]}
    for g in steer:
        d = xr.open_zarr(workdir / f"results/squiggles/{v}/seed0/distance/steer-sigma{g}.zarr")
        assert int(d["in_attack_set"].sum()) == n and d.sizes["sample"] >= n
        assert float(d.attrs["steer_sigma"]) == float(g)


def test_edit_squiggles_attack_reruns_no_training(workdir, test_config):
    cfg = _edited(workdir, test_config, ["squiggles", "attack", "pixel_steps"], 4)
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    rules = {r for r, _ in jobs}
    assert "squiggles_pixel" in rules and "squiggles_train" not in rules
    assert not rules & {"squiggles_dataset", "squiggles_latent", "squiggles_distance"}


def test_edit_squiggles_noise_retrains_only_the_noise_model(workdir, test_config):
    cfg = _edited(workdir, test_config, ["squiggles", "noise_sigmas"], [0.0, 0.05])
    jobs = planned_jobs(smk(workdir, "-n", "figures/", configfile=cfg).stdout)
    trained = {(w["variant"], w["sigma"]) for r, w in jobs if r == "squiggles_train"}
    assert trained == {("sinenet", "0.05")}
    assert "squiggles_latent" not in {r for r, _ in jobs}


def test_snakemake_report_has_every_figure_with_its_caption(workdir):
    smk(workdir, "--report", "report.html", "figures/")
    page = (workdir / "report.html").read_text()
    for name in ("dmm_lowdim_clinging", "tilting_toy", "squiggles_sinenet_latent"):
        assert f"{name}.png" in page
    # the ledger's table and page are in the report, under "Claims"
    assert "claims.tsv" in page and "claims.html" in page and "Claims" in page
    for caption in (
        "DMM Fig. 5a",
        "Tilting article Fig. 6",
        "Wu et al. Table 1",
        "Squiggles Fig. 9",
    ):
        assert caption in page


@pytest.mark.long  # a second whole run: make test-long
def test_two_runs_give_bitwise_identical_results(claims_run, second_run):
    """Determinism on CPU: every Zarr store (all variables and coordinates, bitwise),
    every checkpoint, every metrics file and the verdicts equal between two runs in
    separate directories, the second one scheduled differently (--cores 8)."""
    workdir = claims_run
    other, _ = second_run
    stores = sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*.zarr"))
    assert stores == sorted(p.relative_to(other) for p in (other / "results").rglob("*.zarr"))
    assert len(stores) >= 20
    for rel in stores:
        assert_same_store(workdir / rel, other / rel)
    models = sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*.pt"))
    assert models == sorted(p.relative_to(other) for p in (other / "results").rglob("*.pt"))
    for rel in models:
        assert_same_model(workdir / rel, other / rel)
    metrics = sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("metrics.json"))
    assert len(metrics) >= 5
    for rel in metrics:
        assert (workdir / rel).read_text() == (other / rel).read_text(), rel
    assert sum(len(json.loads((workdir / rel).read_text())) for rel in metrics) > 100
    # the verdicts too (the bootstrap is seeded); the commit differs between the copies
    a, b = (json.loads((wd / "results/claims/claims.json").read_text()) for wd in (workdir, other))
    assert {**a, "commit": ""} == {**b, "commit": ""}


def _rule_bodies(root: Path):
    """(rules file, rule name, rule body) of every rule the workflow declares."""
    for rule_file in sorted((root / "rules").glob("*.smk")):
        text = rule_file.read_text()
        for m in re.finditer(r"^rule (\w+):(.*?)(?=^rule |\Z)", text, re.M | re.S):
            yield rule_file.name, m.group(1), m.group(2)


_STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"


def _job_spans(logs: Path) -> list[tuple[float, float, str]]:
    """(start, end, log) of every job from its log's first and 'done in' lines."""
    from datetime import datetime

    def t(stamp: str) -> float:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()

    spans = []
    for log in logs.rglob("*.log"):
        text = log.read_text()
        start = re.search(rf"^{_STAMP} INFO rule ", text, re.M)
        end = re.search(rf"^{_STAMP} INFO done in ", text, re.M)
        assert start and end, log
        spans.append((t(start.group(1)), t(end.group(1)), str(log)))
    return spans


@pytest.mark.long  # reads the second run
def test_more_cores_than_cpus_does_not_oversubscribe(second_run, root):
    """--cores 8 on a smaller machine: Snakemake is given the CPUs there are, every job
    runs torch with its rule's threads, and no more jobs run at once than CPUs."""
    wd, out = second_run
    cpus = available_cpus()
    assert f"Provided cores: {min(8, cpus)}" in out
    if cpus < 8:
        assert f"--cores 8 is more than the {cpus} CPUs" in out
    threads = {}
    for _, rule, body in _rule_bodies(root):
        th = re.search(r"^\s+threads: (\d+)", body, re.M)
        threads[rule] = int(th.group(1)) if th else 1
    logs = list((wd / "logs").rglob("*.log"))
    assert len(logs) >= 40
    for log in logs:
        m = re.search(
            r"INFO rule (\w+), wildcards .*, threads (\d+), torch threads (\d+)$",
            log.read_text(),
            re.M,
        )
        assert m, log
        assert int(m.group(3)) == int(m.group(2)) == threads[m.group(1)], log
    spans = _job_spans(wd / "logs")
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert 1 < peak <= min(8, cpus)


def test_memory_heavy_rules_declare_mem_mb(root):
    """Every rule that runs a script declares mem_mb (Slurm and --resources use it)."""
    for name, rule, body in _rule_bodies(root):
        if "script:" in body:
            assert re.search(r"^\s+mem_mb=", body, re.M), f"{name}: {rule}"
