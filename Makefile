# Two commands do everything: `make demo` (set-up + main job) and `make test` (set-up + tests).
PY := .venv/bin/python
RESULTS_DIR ?= results
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: setup demo test lint tables table1 baselines ratio-sweep expansion conv report sync runs datasets bench \
	bench-quick verify health health-list lr-range

setup: .venv/.stamp

.venv/.stamp: pyproject.toml
	test -d .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	bash scripts/install_system_data.sh
	touch $@

# The main job on the embedded data (MNIST-5k): dense, HashedNets and U4-G3, three seeds each,
# then their table. Resumable: rerunning skips finished runs.
demo: setup
	$(PY) run.py -m model=dense,hashednets,mfh seed=0,1,2 epochs=10 results_dir=$(RESULTS_DIR)/demo
	$(PY) scripts/tables.py --results-dir $(RESULTS_DIR)/demo

test: setup
	$(PY) -m pytest

# Upload the offline W&B runs (results/wandb) from a machine with a network and `wandb login`.
sync: setup
	WANDB_MODE=online .venv/bin/wandb sync --yes $(RESULTS_DIR)/wandb/wandb/offline-run-*

# Browse the W&B runs on this machine, no network (wandb's terminal viewer).
runs: setup
	.venv/bin/wandb leet $(RESULTS_DIR)/wandb/wandb

lint: setup
	.venv/bin/ruff check .

# Generic table over every record: results/tables/table.{md,csv,tex} (the optimiser may differ
# between columns: recipes are tuned per dataset).
tables: setup
	$(PY) scripts/tables.py --results-dir $(RESULTS_DIR) --per-column optim

# The paper's Table 1: runs experiments/table1.yaml (resumable), renders results/tables/table1.*.
# Pass-through, e.g. `make table1 LOGGER=none DEVICE=cuda`.
table1: setup
	$(PY) scripts/table1.py --results-dir $(RESULTS_DIR) $(if $(LOGGER),logger=$(LOGGER)) $(if $(DEVICE),device=$(DEVICE))

# HashedNets' baselines (NN, LRD, RER, +DK) beside HashedNets, U4-G3 and dense:
# results/tables/baselines.{md,csv,tex} and baselines_claims.{md,csv}; first tunes the recipes it
# misses, DK's temperature and weight among them (resumable).
baselines: setup
	$(PY) scripts/table1.py --layout experiments/baselines.yaml --results-dir $(RESULTS_DIR) $(if $(LOGGER),logger=$(LOGGER))

# FunHashNN's error against compression and HashedNets' expansion study, each first tuning the
# recipes it misses (resumable; the runs themselves about 50 and 10 minutes on 2 cores, the
# tuning several hours): results/figures/<name>.png and results/tables/<name>.{md,csv}.
ratio-sweep: setup
	$(PY) scripts/figure.py --experiment experiments/ratio_sweep.yaml --results-dir $(RESULTS_DIR) $(if $(LOGGER),logger=$(LOGGER))

expansion: setup
	$(PY) scripts/figure.py --experiment experiments/expansion.yaml --results-dir $(RESULTS_DIR) $(if $(LOGGER),logger=$(LOGGER))

# The conv experiment (issue 28): a 3 conv + 2 fc CNN on Fashion-MNIST, NN / HashedNets / U4-G3
# at 1/8 ... 1/100 with dense, tuned recipes (resumable): results/figures/conv.png and
# results/tables/conv.{md,csv}.
conv: setup
	$(PY) scripts/figure.py --experiment experiments/conv.yaml --results-dir $(RESULTS_DIR) $(if $(LOGGER),logger=$(LOGGER))

# Training health of g's init (issue 25): dead / plateau / diverged runs before and after, 16
# seeds, three recipes (resumable): results/health/health.{md,csv}.
health: setup
	$(PY) scripts/health.py --results-dir $(RESULTS_DIR) checkpoint=false $(if $(LOGGER),logger=$(LOGGER))

# The largest learning rate at which all 16 seeds train, per model, architecture and
# model.step_scale (resumable): results/health/lr_range.{md,csv}.
lr-range: setup
	$(PY) scripts/lr_range.py --results-dir $(RESULTS_DIR) checkpoint=false $(if $(LOGGER),logger=$(LOGGER))

# Every run under results/ that did not train well (dead, plateau, diverged), one line each.
health-list: setup
	$(PY) scripts/tables.py --health --results-dir $(RESULTS_DIR)

# The review notebook (notebooks/review.py) executed on the results: results/report.html.
report: setup
	$(PY) scripts/report.py --results-dir $(RESULTS_DIR)

# One sheet of sample images per available dataset: results/figures/datasets_<name>.png
# (builds and caches the generated sets under data/cache; skips sets whose files are absent).
datasets: setup
	$(PY) scripts/datasets.py --out $(RESULTS_DIR)/figures

# Cost of dense, HashedNets and MFH layers (issue 5): times, FLOPs, memory, table and figure in
# results/cost (about 5 minutes on 2 cores). Waiting OpenMP threads spin briefly, then sleep,
# so that other jobs on the machine do not stall every parallel region (docs/cost.md).
BENCH_SPIN ?= 20000
bench: setup
	GOMP_SPINCOUNT=$(BENCH_SPIN) $(PY) scripts/bench.py --out $(or $(BENCH_DIR),results/cost)

# The whole 3-layer net at batch 50, five models, step and inference_cached (under a minute);
# REPEAT=N: N runs and the spread of the targets over them.
bench-quick: setup
	GOMP_SPINCOUNT=$(BENCH_SPIN) $(PY) scripts/bench.py --quick --out $(or $(BENCH_DIR),/tmp/mfh-bench-quick) $(if $(REPEAT),--repeat $(REPEAT))

# Rerun committed records from their own config and seed and say, per record, bit-identical /
# rounding / different (scripts/verify.py). A few of the shortest by default; ALL=1 for every one.
verify: setup
	$(PY) scripts/verify.py --results-dir $(RESULTS_DIR) $(if $(ALL),--all)
