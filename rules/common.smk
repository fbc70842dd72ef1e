# Shared wiring: the studies' registries (paths and figures), the helpers every figure
# rule uses, wildcard constraints shared by all rules, resources.

from pathlib import Path

from pipeline_lib import costs, figures, ledger
from pipeline_lib.studies import all_figures, all_metric_files
from pipeline_lib.studies.ledger import all_claims
from pipeline_lib.studies.dmm import registry as dmm
from pipeline_lib.studies.lowdim import registry as lowdim
from pipeline_lib.studies.shells import registry as shells
from pipeline_lib.studies.squiggles import registry as squiggles
from pipeline_lib.studies.tilting import registry as tilting

GPU = 0 if config["device"] == "cpu" else 1


def runtime_of(rule):
    """The rule's wall-time request in minutes, from the config (pipeline_lib.costs)."""
    return costs.runtime(rule, config)


# Every figure of this config, by name (= file stem), as its study's registry declares it.
FIGURES = figures.index(all_figures(config))
# Every claim of this config, as its study's claims registry declares it.
CLAIMS = all_claims(config)


wildcard_constraints:
    seed=r"\d+",
    dataset="fashion_mnist|mnist|cifar10|imagenet",
    split="train|test",
    sigma=r"\d+(\.\d+)?",


def figure_names(rule):
    """Wildcard constraint for a figure rule's {figure}: the names it draws."""
    return figures.names_regex(FIGURES.values(), rule)


def _figure(output):
    return FIGURES[Path(output[0]).stem]


def figure_inputs(wildcards):
    return dict(FIGURES[wildcards.figure].inputs)


def figure_draw(wildcards):
    """What the study's draw() needs: the figure's kind and its (config) params."""
    fig = FIGURES[wildcards.figure]
    return {"kind": fig.kind, "params": dict(fig.params)}


def figure_caption(wildcards, output):
    """The registry's caption with the full references, RST-escaped, for the report."""
    return (
        _figure(output).report_caption().translate({ord(c): "\\" + c for c in "\\*`|_"})
    )


def figure_category(wildcards, output):
    return _figure(output).category


def figure_subcategory(wildcards, output):
    return _figure(output).subcategory or None


def figure_labels(wildcards, output):
    fig = _figure(output)
    return {"figure": fig.name, "paper": fig.paper or "-"}


def shells_model(w):
    """The base model of one shells evaluation. The clean base reuses the DMM clean
    classifier of the same dataset and seed when its settings are identical (same data,
    same seed, same optimiser: the same network), instead of training it twice. (The
    wiring between two studies lives here, in the rules, not in either study.)"""
    d, seed = w.dataset, int(w.seed)
    cfg_dmm = config["dmm"]
    if (
        w.base == "clean"
        and d in cfg_dmm["datasets"]
        and "clean" in cfg_dmm["variants"]
        and seed in cfg_dmm["seeds"]
        and cfg_dmm[d]["classifier"] == config["shells"][d]["classifier"]
    ):
        return dmm.run(d, "clean", seed, "model.pt")
    return shells.run(d, w.base, seed, "model.pt")
