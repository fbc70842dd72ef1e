# Two commands on a fresh machine: `make figures` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# at most 8 cores, and never more than the machine has (no oversubscription)
CORES ?= $(shell n=$$(nproc 2>/dev/null || echo 8); [ $$n -lt 8 ] && echo $$n || echo 8)
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=
# Byte-compiled modules cut every job's start (torch, xarray, seaborn imports) from
# ~8-10 s to ~3-4 s on a 2-core machine: site-packages are compiled at install time
# and our own sources may cache theirs even where the shell sets PYTHONDONTWRITEBYTECODE.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup venv env tools lock uv data figures unlock ablations gpu-check report snapshot test test-long bench lint format dryrun clean

setup: env tools data

# The environment is installed exactly from a committed lock (requirements/default.lock:
# every package, direct and transitive, by name, version and hashes; no index URLs),
# for the Python pinned in .python-version. `uv pip sync` installs what the lock lists
# and removes anything else, so a second `make setup` changes nothing, and `make test`
# after `make bench` (which syncs requirements/bench.lock) goes back to the default set.
PYTHON_VERSION := $(shell cat .python-version)
UV_VERSION := 0.13.9
# a uv of the pinned version: the one on PATH if it is that version, else python3's module
UV := $(shell uv --version 2>/dev/null | grep -qE '^uv $(subst .,\.,$(UV_VERSION))( |$$)' \
	&& echo uv || echo python3 -m uv)
LOCK := requirements/default.lock
BENCH_LOCK := requirements/bench.lock
# tools whose pins conflict with the project's (cffconvert: jsonschema 3.2), own venv
TOOLS_VENV := .venv-tools
TOOLS_LOCK := requirements/tools.lock

UV_OK := grep -qE '^uv $(subst .,\.,$(UV_VERSION))( |$$)'

uv:
	@$(UV) --version 2>/dev/null | $(UV_OK) \
		|| python3 -m pip install --quiet "uv==$(UV_VERSION)" \
		|| python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
		|| { echo "error: could not install uv $(UV_VERSION) with pip; install it (e.g." >&2; \
		     echo "       'pipx install uv==$(UV_VERSION)') and run make setup again" >&2; exit 1; }

# .venv with the pinned Python, checked on every call (recreated when it holds another).
venv: uv
	@if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(PYTHON_VERSION)")'; then \
		echo "$(VENV) holds another Python than $(PYTHON_VERSION): recreating it"; rm -rf $(VENV); fi
	@[ -x $(PY) ] || $(UV) venv --quiet --python $(PYTHON_VERSION) $(VENV) || { \
		echo "error: Python $(PYTHON_VERSION) (pinned in .python-version) was not found, and uv could" >&2; \
		echo "       not download it. Install it, e.g. 'uv python install $(PYTHON_VERSION)'," >&2; \
		echo "       'apt-get install python$(PYTHON_VERSION)' or 'pyenv install $(PYTHON_VERSION)'," >&2; \
		echo "       then run 'make setup' again." >&2; exit 1; }

env: venv
	$(UV) pip sync --quiet --python $(PY) --compile-bytecode $(LOCK)

tools: venv
	@[ -x $(TOOLS_VENV)/bin/python ] || $(UV) venv --quiet --python $(PY) $(TOOLS_VENV)
	$(UV) pip sync --quiet --python $(TOOLS_VENV)/bin/python $(TOOLS_LOCK)

# Refresh the locks from pyproject.toml (newest versions its ranges allow), for every
# platform, for the pinned Python; then `make setup` installs the new default lock.
lock: uv
	$(UV) pip compile requirements/default.in --quiet --universal --generate-hashes \
		--python-version $(PYTHON_VERSION) --custom-compile-command "make lock" -o $(LOCK)
	$(UV) pip compile requirements/bench.in --quiet --universal --generate-hashes \
		--python-version $(PYTHON_VERSION) --custom-compile-command "make lock" -o $(BENCH_LOCK)
	$(UV) pip compile requirements/tools.in --quiet --universal --generate-hashes \
		--python-version $(PYTHON_VERSION) --custom-compile-command "make lock" -o $(TOOLS_LOCK)
	python3 requirements/conda_env.py $(LOCK) $(PYTHON_VERSION) envs/pipeline.yaml

# Fashion-MNIST from Debian's archive where we can (root + apt); otherwise say how.
data:
	@if [ -f $(FASHION_MNIST) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian package dataset-fashion-mnist"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; }; \
	else \
		echo "note: Fashion-MNIST is not installed; run 'sudo apt-get install dataset-fashion-mnist'"; \
		echo "      or set natural.fashion_mnist.data_dir / download in the config"; \
	fi

figures: setup
	@$(PY) -m pipeline_lib.locks
	$(VENV)/bin/snakemake --cores $(CORES) figures/ --configfile $(CONFIG)

# After a run was killed as a whole (kill -9, a crashed machine): remove the lock it left
# behind (`make figures` says when); finished jobs are kept, interrupted ones rerun.
unlock: env
	$(VENV)/bin/snakemake --unlock figures/ --configfile $(CONFIG)

# The default figures plus the ablation sweeps of config/ablations.yaml (overlaid on
# CONFIG): only the ablation jobs and the verdict page run on top of `make figures`.
ABLATIONS ?= config/ablations.yaml
ablations: setup
	@$(PY) -m pipeline_lib.locks
	$(VENV)/bin/snakemake --cores $(CORES) figures/ --configfile $(CONFIG) $(ABLATIONS)

# Snakemake's self-contained HTML report of the figures (run after `make figures`).
report: env
	$(VENV)/bin/snakemake --report report.html figures/ --configfile $(CONFIG)

# The README's verdict snapshot (and docs/claims_snapshot.json) from the claims.json of a
# full default run (run `make figures` first); refuses a claims.json of another config.
snapshot: env
	$(PY) -m pipeline_lib.ledger_page figures/claims.json README.md docs/claims_snapshot.json

dryrun: env
	$(VENV)/bin/snakemake -n figures/ --configfile $(CONFIG)

test: setup
	UV="$(UV)" $(VENV)/bin/pytest -m "not long" $(PYTEST_ARGS)

# What does not fit make test's 15 minutes on 2 cores, run by CI after it: config/paper.yaml's
# DAG in miniature on two of its seeds (config/paper_smoke.yaml + paper_smoke_two_seeds.yaml:
# every rule with every non-seed wildcard, tiny sizes, MNIST/CIFAR-10/ImageNet files the test
# writes; 382 jobs) and two runs of config/test.yaml up to the verdicts (bitwise determinism,
# no oversubscription).
test-long: setup
	UV="$(UV)" $(VENV)/bin/pytest -m long $(PYTEST_ARGS)

# The performance suite (benchmarks/suite.py): rows P1-P6 and P8 side by side in one run,
# one table + results/bench/suite.json; BENCH_ARGS e.g. "--rows P1 P3 --device cuda".
# The detailed scripts (bench_dmm.py, bench_squiggles.py) and rule_times.py run alone.
bench: data venv
	$(UV) pip sync --quiet --python $(PY) --compile-bytecode $(BENCH_LOCK)
	$(PY) benchmarks/suite.py $(BENCH_ARGS)

# On a CUDA machine: the device benchmark rows, a GPU determinism check of one training
# job and the paper-shaped smoke config on CUDA (benchmarks/gpu_check.py; a few minutes);
# stops with a clear message where torch sees no GPU.
gpu-check: setup
	$(PY) benchmarks/gpu_check.py

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile rules/
	$(VENV)/bin/snakemake --lint --configfile config/test.yaml

format: env
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format src scripts tests
	$(VENV)/bin/snakefmt Snakefile rules/

clean:
	rm -rf results figures logs .snakemake report.html
