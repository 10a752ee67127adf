# Two commands do everything: `make demo` (set-up + main job) and `make test` (set-up + tests).
PY := .venv/bin/python
RESULTS_DIR ?= results
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: setup demo test lint tables sync

setup: .venv/.stamp

.venv/.stamp: pyproject.toml
	test -d .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	bash scripts/install_system_data.sh
	touch $@

test: setup
	$(PY) -m pytest

lint: setup
	.venv/bin/ruff check .
