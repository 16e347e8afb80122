# The two set-up commands of the README: `make run` (main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= runs/quick
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench fetch fashion-mnist

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

test: $(VENV)/.installed fashion-mnist
	$(PY) -m pytest -q -rs tests

# The PyTorch peers of the benchmarks are a large install, so only `make bench` asks for them.
$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) -m benchmarks.run_all
