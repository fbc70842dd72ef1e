"""Dry runs of reduced configs: every study can run alone and be left out.

Each case derives a config from config/test.yaml by dropping parts (one study only, one
variant only, one study switched off), writes it into a temporary directory and runs
``snakemake -n figures/`` there with the repository's Snakefile. The jobs it plans must
be exactly those the reduction implies: the counts per rule below are worked out from
the config alone (not from rules/), and the gallery collects only the figures and
metrics of the studies left on.

What "switched off" means is what the schema allows: an empty dataset list
(``dmm``, ``tilting``, ``shells``; ``natural`` once none of them needs a dataset) or
empty variant lists (``squiggles``). The low-dimensional study cannot be switched off
(``lowdim.manifolds`` and ``lowdim.variants`` need at least one item), so a "one study
only" config keeps its smallest run (one manifold, one variant, one seed); the tilting
toy (``tilting_toy``, its figure and ``tilting_summary``) has no switch and always runs.
"""

import copy
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pipeline_lib.config import check_config

pytestmark = pytest.mark.slow  # 14 dry runs of the whole workflow: about 2 min

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
BASE = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())

STUDIES = ("lowdim", "dmm", "tilting", "shells", "squiggles")
OFF = {
    "dmm": {"dmm": {"datasets": []}},
    "tilting": {"tilting": {"datasets": []}},
    "shells": {"shells": {"datasets": []}},
    "squiggles": {"squiggles": {"variants": [], "analysis_variants": []}},
}
# the smallest low-dimensional run the schema allows (it cannot be switched off)
LOWDIM_MIN = {"lowdim": {"manifolds": ["line"], "variants": ["clean"], "seeds": [0]}}
NO_NATURAL = {"natural": {"datasets": []}}


def merge(base: dict, *overlays: dict) -> dict:
    """``base`` with each overlay applied key by key (lists replace lists), as
    Snakemake overlays a --configfile on the Snakefile's configfile."""
    out = copy.deepcopy(base)
    for over in overlays:
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def only(study: str) -> list[dict]:
    parts = [OFF[s] for s in OFF if s != study]
    if study != "lowdim":
        parts.append(LOWDIM_MIN)
    if study not in ("dmm", "tilting", "shells"):
        parts.append(NO_NATURAL)
    return parts


CASES = {
    **{f"only_{s}": only(s) for s in STUDIES},
    **{f"{s}_off": [OFF[s]] for s in OFF},
    "everything_off": [*OFF.values(), LOWDIM_MIN, NO_NATURAL],
    # the Squiggles training curves generated while training (as config/paper.yaml)
    "squiggles_streamed": [*only("squiggles"), {"squiggles": {"stream": {"enabled": True}}}],
    # one variant of everything: clean models only, no noise models, no analysis
    "one_variant_clean": [
        {
            "lowdim": {"variants": ["clean"]},
            "dmm": {"variants": ["clean"], "mislabeled": {"schemes": ["rand"]}},
            "shells": {"bases": ["clean"], "shells": ["mcn"]},
            "squiggles": {"variants": ["sinenet"], "analysis_variants": []},
        }
    ],
    # the other one: no clean DMM model (the mislabeled N1 is still trained as an input,
    # and the clean shell base cannot reuse it), adversarial low-dim runs only
    "one_variant_adversarial": [
        {
            "lowdim": {"variants": ["adversarial"]},
            "dmm": {"variants": ["adversarial"], "mislabeled": {"schemes": ["det"]}},
            "shells": {"bases": ["clean"], "shells": ["ncn"]},
            "squiggles": {"variants": ["taylor"], "analysis_variants": []},
        }
    ],
}


# --------------------------------------------------------------- what a config implies


def studies_on(cfg: dict) -> set[str]:
    """The parts of the workflow a (checked) config runs; "tilting_toy" always runs."""
    on = {"lowdim", "tilting_toy"}
    on |= {"data"} if cfg["natural"]["datasets"] else set()
    on |= {s for s in ("dmm", "tilting", "shells") if cfg[s]["datasets"]}
    on |= {"squiggles"} if cfg["squiggles"]["variants"] else set()
    return on


def lowdim_figures(low: dict) -> list[str]:
    v, m = set(low["variants"]), set(low["manifolds"])
    out = ["dmm_lowdim_clinging", "dmm_lowdim_separation"]
    if "clean" in v:
        out += ["dmm_lowdim_boundary_2d"] if m & {"line", "diagonal"} else []
        out += ["dmm_lowdim_height_maps"] if "plane" in m else []
        out += ["dmm_lowdim_gradients"]
        out += ["dmm_lowdim_adversarial"] if "adversarial" in v else []
        out += ["dmm_lowdim_random_labels"] if "random_labels" in v else []
        out += ["dmm_lowdim_random_clusters"] if "random_clusters" in v else []
    out += ["dmm_lowdim_ablation"] if lowdim_ablation_runs(low) else []
    return out


def lowdim_ablation_runs(low: dict) -> int:
    """App. C sensitivity runs: manifolds x (lr x output weights x loss) x seeds."""
    a = low["ablations"]
    settings = len(a["lr"]) * len(a["output_weights"]) * len(a["loss"])
    return len(a["manifolds"]) * settings * len(a["seeds"])


ATTACKED = {"clean", "adversarial", "noise"}  # the DMM variants that are attacked


def dmm_figures(dmm: dict) -> list[str]:
    attacked = ATTACKED & set(dmm["variants"])
    out = ["autoencoder", "clinging"]
    out += ["ratios", "projections", "onoff", "linf_l2", "controls"] if attacked else []
    out += ["adv_training"] if "clean" in attacked and len(attacked) >= 2 else []
    out += ["mislabeled", "similarity"] if dmm["mislabeled"]["schemes"] else []
    return out


def dmm_ablation_figures(dmm: dict) -> list[str]:
    abl = dmm["ablations"]
    out = ["manifold"] + (["location"] if len(abl["locations"]) > 1 else []) if abl["k"] else []
    return out + (["boundary"] if abl["archs"] else [])


def sweep_fracs(sq: dict) -> list[float]:
    """The Squiggles size sweep's fractions where it runs (analysis variants and a noise
    level above 0 to compare with)."""
    noisy = [g for g in sq["noise_sigmas"] if float(g) > 0]
    on = sq["analysis_variants"] and noisy
    return [float(f) for f in sq["size_sweep"]["fractions"]] if on else []


def res_factors(sq: dict) -> list[int]:
    """The Squiggles resolution study's factors where it runs (as the size sweep)."""
    noisy = [g for g in sq["noise_sigmas"] if float(g) > 0]
    on = sq["analysis_variants"] and noisy
    return [int(f) for f in sq["resolution_study"]["factors"]] if on else []


def expected_figures(cfg: dict) -> set[str]:
    figs = set(lowdim_figures(cfg["lowdim"])) | {"tilting_toy", "tilting_fig3"}
    figs |= {f"data_{d}_samples" for d in cfg["natural"]["datasets"]}
    dmm = cfg["dmm"]
    figs |= {f"dmm_{d}_{w}" for d in dmm["datasets"] for w in dmm_figures(dmm)}
    figs |= {f"dmm_ablation_{d}_{w}" for d in dmm["datasets"] for w in dmm_ablation_figures(dmm)}
    til = cfg["tilting"]
    figs |= {
        f"tilting_{d}_{w}"
        for d in til["datasets"]
        for w in ("angle", "plane", "rotation", "perturbation")
    }
    sh = cfg["shells"]
    for d in sh["datasets"]:
        figs.add(f"shells_{d}_success")
        figs |= {f"shells_{d}_delta_sweep"} if sh["mcn_delta_factors"] else set()
        figs |= {f"shells_{d}_{b}_{s}_gallery" for b in sh["bases"] for s in sh["shells"]}
    sq = cfg["squiggles"]
    figs |= {f"squiggles_{v}_examples" for v in sq["variants"]}
    figs |= {"squiggles_generalization"} if sq["variants"] else set()
    what = ("fig3", "latent", "distance", "pixel", "decomposition", "errors", "attack_vectors")
    figs |= {f"squiggles_{v}_{w}" for v in sq["analysis_variants"] for w in what}
    if sweep_fracs(sq):
        figs |= {f"squiggles_{v}_size_sweep" for v in sq["analysis_variants"]}
    if res_factors(sq):
        figs |= {f"squiggles_{v}_resolution" for v in sq["analysis_variants"]}
    if sq["ablations"]["attack_loss"]:
        figs |= {f"squiggles_{v}_attack_loss" for v in sq["analysis_variants"]}
    return figs


def expected_jobs(cfg: dict) -> Counter:
    """Jobs per rule (figure jobs excluded: they are checked by the figures they make)."""
    n = Counter()
    low = cfg["lowdim"]
    n["lowdim_dataset"] = len(low["manifolds"])
    n["lowdim_train"] = len(low["manifolds"]) * len(low["variants"]) * len(low["seeds"])
    n["lowdim_summary"] = 1
    n["lowdim_walls"] = len(low["manifolds"])
    n["lowdim_ablation_train"] = lowdim_ablation_runs(low)
    n["lowdim_ablation_summary"] = 1 if lowdim_ablation_runs(low) else 0
    n["claims"] = 1  # the ledger: every config judges its claims
    n["natural_dataset"] = len(cfg["natural"]["datasets"])
    dmm = cfg["dmm"]
    seeds, variants, schemes = dmm["seeds"], dmm["variants"], dmm["mislabeled"]["schemes"]
    trained = set(variants) | ({"clean"} if {"det", "rand"} & set(schemes) else set())
    for d in dmm["datasets"]:
        n["dmm_autoencoder"] += 1
        n["dmm_tangents"] += 1
        n["dmm_classifier"] += len(trained) * len(seeds)
        tracked = dmm.get("distance_variants")
        n["dmm_distance"] += len([v for v in variants if tracked is None or v in tracked]) * len(
            seeds
        )
        n["dmm_attacks"] += len(ATTACKED & set(variants)) * len(seeds)
        n["dmm_controls"] += len(ATTACKED & set(variants)) * len(seeds)
        n["dmm_mislabeled"] += len(schemes) * len(seeds)
        n["dmm_summary"] += 1
        # ablations: settings equal to the default reuse the default autoencoder/tangents
        abl, ae = dmm["ablations"], dmm[d]["autoencoder"]
        grid = [(k, e) for k in abl["k"] for e in (abl["autoencoder_epochs"] or [ae["epochs"]])]
        default = (ae["k"], ae["epochs"]) in grid
        n["dmm_ablation_autoencoder"] += len(grid) - default
        tangents = len(grid) * len(abl["locations"]) - (
            default and "reconstruction" in abl["locations"]
        )
        n["dmm_ablation_tangents"] += tangents
        n["dmm_ablation_attacks"] += tangents * len(abl["seeds"])
        n["dmm_ablation_classifier"] += len(abl["archs"]) * len(abl["seeds"])
        n["dmm_ablation_distance"] += len(abl["archs"]) * len(abl["seeds"])
        n["dmm_ablation_summary"] += bool(abl["k"] or abl["archs"])
        if abl["k"]:  # the attacked clean classifiers of seeds the default run lacks
            have = set(seeds) if "clean" in trained else set()
            n["dmm_classifier"] += len(set(abl["seeds"]) - have)
        if default and "reconstruction" in abl["locations"]:
            # the default setting reuses the default clean attack stores (and runs them
            # where the default config does not attack clean classifiers of those seeds)
            attacked = set(seeds) if "clean" in variants else set()
            n["dmm_attacks"] += len(set(abl["seeds"]) - attacked)
    til = cfg["tilting"]
    n["tilting_sweep"] = len(til["datasets"])
    n["tilting_bootstrap"] = len(til["datasets"]) if til["bootstrap"] else 0
    n["tilting_toy"] = n["tilting_fig3"] = n["tilting_summary"] = 1
    sh = cfg["shells"]
    for d in sh["datasets"]:
        for base in sh["bases"]:
            for seed in sh["seeds"]:
                reused = (
                    base == "clean"
                    and d in dmm["datasets"]
                    and "clean" in variants
                    and seed in seeds
                    and dmm[d]["classifier"] == sh[d]["classifier"]
                )
                n["shells_base"] += 0 if reused else 1
                n["shells_evaluate"] += 1
        n["shells_summary"] += 1
    sq = cfg["squiggles"]
    analysed, sq_seeds = sq["analysis_variants"], sq["seeds"]
    # a streamed training split has no store: the test split's only
    n["squiggles_dataset"] = (1 if sq["stream"]["enabled"] else 2) * len(sq["variants"])
    steer = {float(g) for g in sq["distance"]["steering"]}
    for v in sq["variants"]:
        trained = {0.0} | ({float(g) for g in sq["noise_sigmas"]} if v in analysed else set())
        # the other variant's models steer an analysed variant's distance search
        if any(a != v for a in analysed):
            trained |= steer
        n["squiggles_train"] += len(trained) * len(sq_seeds)
    for key in ("latent", "decomposition"):
        n[f"squiggles_{key}"] = len(analysed) * len(sq_seeds)
    n["squiggles_distance"] = len(analysed) * len(sq_seeds) * len(steer)
    n["squiggles_pixel"] = len(analysed) * len(sq["noise_sigmas"]) * len(sq_seeds)
    n["squiggles_summary"] = 1 if sq["variants"] else 0
    n["squiggles_fig3"] = len(analysed)  # of the first seed
    n["squiggles_discriminator"] = 1 if set(sq["variants"]) == {"taylor", "sinenet"} else 0
    # the size sweep: per analysis variant, fraction and sweep seed a sigma-0 and a
    # noise-trained model, a latent and two pixel attacks; the main models stand in at
    # fraction 1 for the seeds they have
    sweep = sq["size_sweep"]
    runs = sum(
        1 for f in sweep_fracs(sq) for seed in sweep["seeds"] if not (f == 1.0 and seed in sq_seeds)
    ) * len(analysed)
    n["squiggles_size_train"] = n["squiggles_size_pixel"] = 2 * runs
    n["squiggles_size_latent"] = runs
    n["squiggles_size_summary"] = 1 if sweep_fracs(sq) else 0
    # the resolution study: per factor every variant's test set (and the training set
    # where it is stored) rendered again; per analysis variant and study seed a sigma-0 and
    # a noise-trained model, a latent and two pixel attacks
    factors = res_factors(sq)
    splits = 1 if sq["stream"]["enabled"] else 2
    n["squiggles_res_dataset"] = len(factors) * (len(sq["variants"]) + (splits - 1) * len(analysed))
    res_runs = len(factors) * len(sq["resolution_study"]["seeds"]) * len(analysed)
    n["squiggles_res_train"] = n["squiggles_res_pixel"] = 2 * res_runs
    n["squiggles_res_latent"] = res_runs
    n["squiggles_res_summary"] = 1 if factors else 0
    losses = sq["ablations"]["attack_loss"]
    n["squiggles_latent_loss"] = len(analysed) * len(sq_seeds) * len(losses)
    n["squiggles_pixel_loss"] = n["squiggles_pixel"] * len(losses)
    n["squiggles_loss_summary"] = 1 if losses and analysed else 0
    return +n  # drop the zeros


def study_of_figure(name: str) -> str:
    for prefix, study in (
        ("dmm_lowdim_", "lowdim"),
        ("data_", "data"),
        ("dmm_", "dmm"),
        ("tilting_toy", "tilting_toy"),
        ("tilting_fig3", "tilting_toy"),
        ("tilting_", "tilting"),
        ("shells_", "shells"),
        ("squiggles_", "squiggles"),
    ):
        if name.startswith(prefix):
            return study
    raise AssertionError(f"figure {name!r} belongs to no study")


def study_of_metrics(path: str) -> str:
    """results/<study>/.../metrics.json; the tilting file holds the toy's metrics too."""
    study = Path(path).parts[1]
    return {"tilting": "tilting_toy"}.get(study, study)


# ----------------------------------------------------------------------------- dry runs


def planned_jobs(output: str) -> list[dict]:
    """Rule, inputs and outputs of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n\s*\n", output):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not m:
            continue
        field = {
            k: [p for p in v.split(", ") if p]
            for k, v in re.findall(r"^\s+(input|output): (.*)$", block, re.M)
        }
        jobs.append({"rule": m.group(1), "input": field.get("input", []), **field})
    return jobs


def _command(tmp_path: Path, cfg: dict) -> list[str]:
    cfile = tmp_path / "reduced.yaml"
    cfile.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [SNAKEMAKE, "-n", "figures/", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path / "wd")]
    return cmd + ["--configfile", str(cfile)]


def dry_run(tmp_path: Path, cfg: dict) -> subprocess.CompletedProcess:
    cmd = _command(tmp_path, cfg)
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every case's dry run, as many at once as the machine has CPUs (each is one
    single-threaded Snakemake process)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(case):
        return case, dry_run(tmp_path_factory.mktemp(case), merge(BASE, *CASES[case]))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(pool.map(one, sorted(CASES)))


def checked(cfg: dict) -> dict:
    """The config the workflow sees: config/config.yaml overlaid, defaults filled in."""
    return check_config(merge(DEFAULT, cfg), ROOT / "config" / "schema.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_reduced_config_plans_exactly_its_jobs(case, dry_runs):
    raw = merge(BASE, *CASES[case])
    cfg = checked(raw)
    res = dry_runs[case]
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{case}: dry run failed\n{out[-4000:]}"
    jobs = planned_jobs(res.stdout)
    assert jobs, f"{case}: no job planned\n{out[-2000:]}"

    # the gallery job: the one whose output is figures/
    galleries = [j for j in jobs if j["output"] == ["figures"]]
    assert len(galleries) == 1, [j["rule"] for j in galleries]
    gallery = galleries[0]
    figure_inputs = [p for p in gallery["input"] if p.endswith(".png")]
    metric_inputs = [p for p in gallery["input"] if p.endswith("metrics.json")]
    # the ledger's files come from the claims job
    assert {p for p in gallery["input"] if p.startswith("results/claims/")} == {
        f"results/claims/claims.{ext}" for ext in ("json", "tsv", "html")
    }
    figures = {Path(p).stem for p in figure_inputs}
    assert len(figures) == len(figure_inputs), "a figure is collected twice"

    on = studies_on(cfg)
    assert figures == expected_figures(cfg), (
        f"{case}: gallery figures, unexpected {sorted(figures - expected_figures(cfg))}, "
        f"missing {sorted(expected_figures(cfg) - figures)}"
    )
    assert {study_of_figure(f) for f in figures} == on, case
    assert {study_of_metrics(p) for p in metric_inputs} == on - {"tilting"}, case

    # the figure jobs draw exactly the gallery's figures; every other job is what the
    # config implies
    def pngs(job):
        return [p for p in job["output"] if p.startswith("results/figures/") and p.endswith(".png")]

    figure_jobs = [j for j in jobs if pngs(j)]
    drawn = {Path(p).stem for j in figure_jobs for p in pngs(j)}
    assert drawn == figures, sorted(drawn ^ figures)
    others = Counter(j["rule"] for j in jobs if j not in figure_jobs and j is not gallery)
    assert others == expected_jobs(cfg), (
        f"{case}: planned {dict(sorted(others.items()))}\n"
        f"expected {dict(sorted(expected_jobs(cfg).items()))}"
    )
    # and no job of a study that is off
    off = {"dmm", "shells", "squiggles"} - on
    assert not [r for r in others if r.startswith(tuple(f"{s}_" for s in off))], others
    if "tilting" not in on:
        assert "tilting_sweep" not in others


def test_lowdim_cannot_be_switched_off(tmp_path):
    """The schema keeps at least one manifold and one variant: leaving the study out
    stops the run before any job (with the key named), as it should for now."""
    raw = merge(BASE, {"lowdim": {"manifolds": []}})
    res = dry_run(tmp_path, raw)
    out = res.stdout + res.stderr
    assert res.returncode != 0, "lowdim.manifolds: [] is accepted now: add an only_/off case"
    assert "config key 'lowdim.manifolds'" in out and "non-empty" in out, out[-2000:]
    assert "Job stats" not in out
