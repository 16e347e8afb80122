# The two set-up commands of the README: `make run` (main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WORKDIR ?= runs/quick

.PHONY: run test bench fetch

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

test: $(VENV)/.installed
	$(PY) -m pytest -q tests

bench: $(VENV)/.installed
	$(PY) -m benchmarks.run_all
