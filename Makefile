# Two commands on a fresh machine: `make figures` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# at most 8 cores, and never more than the machine has (no oversubscription)
CORES ?= $(shell n=$$(nproc 2>/dev/null || echo 8); [ $$n -lt 8 ] && echo $$n || echo 8)
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=
# Byte-compiled modules cut every job's start (torch, xarray, seaborn imports) from
# ~8-10 s to ~3-4 s on a 2-core machine: site-packages are compiled at install time
# and our own sources may cache theirs even where the shell sets PYTHONDONTWRITEBYTECODE.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup env data figures report test bench lint format dryrun clean

setup: env data

env: $(STAMP)

# The environment: uv creates .venv and installs the package with its pinned-by-range
# dependencies (torch + torchvision from PyPI, CUDA build; it runs on CPU too).
$(STAMP): pyproject.toml
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user uv
	python3 -m uv venv --allow-existing --python python3 $(VENV)
	python3 -m uv pip install --compile-bytecode --python $(PY) -e '.[dev,bench]'
	@touch $@

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
	$(VENV)/bin/snakemake --cores $(CORES) figures/ --configfile $(CONFIG)

# Snakemake's self-contained HTML report of the figures (run after `make figures`).
report: env
	$(VENV)/bin/snakemake --report report.html figures/ --configfile $(CONFIG)

dryrun: env
	$(VENV)/bin/snakemake -n figures/ --configfile $(CONFIG)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The performance suite (benchmarks/suite.py): rows P1-P6 side by side in one run,
# one table + results/bench/suite.json; BENCH_ARGS e.g. "--rows P1 P3 --device cuda".
# The detailed scripts (bench_dmm.py, bench_squiggles.py) and rule_times.py run alone.
bench: setup
	$(PY) benchmarks/suite.py $(BENCH_ARGS)

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check Snakefile rules/
	$(VENV)/bin/snakemake --lint --configfile config/test.yaml

format: env
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format src scripts tests
	$(VENV)/bin/snakefmt Snakefile rules/

clean:
	rm -rf results figures logs .snakemake report.html
