"""What each job of a sweep will cost, predicted before it starts (run.py's time-left line).

A job costs about `JOB_OVERHEAD_S + data loading + build + epochs x (steps per epoch x step
time + evaluated examples x evaluation time per example)`. The times are measured here, once
per dataset and distinct model: loading the data, building the network as the job builds it
(architecture, hashing, the dataset's image shape), training steps at the job's batch size on
random inputs (at least MIN_STEPS and MIN_SECONDS), and a forward in eval mode at the
evaluation's batch size.
A job whose record is finished costs nothing (the runner skips it). What the prediction leaves
out (early stopping, the machine's load, parallel jobs sharing the cores) `seconds_left` takes
from the pace of the jobs run so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import NamedTuple

import torch
from omegaconf import DictConfig
from torch.nn import functional as F

from mfh.data import load_splits
from mfh.harness.config import validate
from mfh.harness.models import build_model
from mfh.harness.records import record_path
from mfh.harness.runner import existing_ok
from mfh.harness.specs import DataSpec, RunSpec
from mfh.harness.train import EVAL_BATCH, make_optimizers

MIN_STEPS, MIN_SECONDS = 3, 0.2   # timed training steps per model (after one untimed)
# Seconds a job costs besides its data, model and epochs (Hydra's job set-up, the record, the
# per-epoch state): 1.1 s per job on the mnist5k column of Table 1 (docs/cost.md).
JOB_OVERHEAD_S = 1.0
PRIOR_SHARE = 0.1   # the prediction counts as this share of the sweep's epochs, run at pace 1
# a dataset is loaded, a model timed, once per process
_sizes_of: dict[tuple, tuple[int, int, int, tuple[int, int, int], int, float]] = {}
_measured: dict[tuple, tuple[float, float, float]] = {}


class Cost(NamedTuple):
    """A job's predicted seconds: `fixed` (overhead, data, build) and `epochs` (training and
    evaluation at the most epochs: early stopping may cut it)."""

    fixed: float
    epochs: float

    @property
    def total(self) -> float:
        return self.fixed + self.epochs


def job_costs(configs: Sequence[DictConfig]) -> list[Cost]:
    """Predicted seconds of each job (0 for a finished record), in the order given."""
    costs = []
    for cfg in configs:
        spec = validate(cfg)
        if existing_ok(record_path(spec.results_dir, spec.config, spec.seed)):
            costs.append(Cost(0.0, 0.0))
            continue
        data_key = (spec.data.name, repr(sorted(spec.data.options.items())), spec.data.data_dir)
        if data_key not in _sizes_of:
            _sizes_of[data_key] = _sizes(spec.data)
        train, valid, test, shape, classes, load = _sizes_of[data_key]
        train = min(train, spec.train_limit or train)
        model_key = (spec.arch, spec.hashing, spec.optim.batch_size, shape, classes,
                     spec.threads)
        if model_key not in _measured:
            _measured[model_key] = _model_seconds(spec, shape, classes)
        build, step, per_example = _measured[model_key]
        epoch = math.ceil(train / spec.optim.batch_size) * step + (valid + test) * per_example
        costs.append(Cost(JOB_OVERHEAD_S + load + build, spec.epochs * epoch))
    return costs


def _sizes(data: DataSpec) -> tuple[int, int, int, tuple[int, int, int], int, float]:
    """(train, valid, test) example counts, image shape, class count of a dataset (the split
    sizes do not depend on the data seed) and the seconds its loading took."""
    start = time.perf_counter()
    splits = load_splits(data)
    return (len(splits.train.y), len(splits.valid.y), len(splits.test.y), splits.shape,
            splits.num_classes, time.perf_counter() - start)


def _model_seconds(spec: RunSpec, shape: tuple[int, int, int],
                   classes: int) -> tuple[float, float, float]:
    """Seconds to build the model, per training step at the job's batch size, and per
    evaluated example, on the job's torch threads (more threads than free cores slow every
    step several times over)."""
    threads = torch.get_num_threads()
    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    try:
        return _timed(spec, shape, classes)
    finally:
        torch.set_num_threads(threads)


def _timed(spec: RunSpec, shape: tuple[int, int, int],
           classes: int) -> tuple[float, float, float]:
    torch.manual_seed(0)
    start = time.perf_counter()
    model = build_model(spec.arch, spec.hashing, shape, classes)
    build = time.perf_counter() - start
    optimizers = make_optimizers(model, spec.optim)
    x = torch.rand(spec.optim.batch_size, *shape)
    y = torch.randint(0, classes, (spec.optim.batch_size,))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        for optimizer in optimizers:
            optimizer.step()

    model.train()
    step()
    steps, start = 0, time.perf_counter()
    while steps < MIN_STEPS or time.perf_counter() - start < MIN_SECONDS:
        step()
        steps += 1
    step_s = (time.perf_counter() - start) / steps
    model.eval()
    batch = torch.rand(EVAL_BATCH, *shape)
    with torch.no_grad():
        model(batch)
        start = time.perf_counter()
        model(batch)
    return build, step_s, (time.perf_counter() - start) / EVAL_BATCH


def seconds_left(costs: Sequence[Cost], started: int, elapsed: float, parallel: int = 1,
                 prior: float = PRIOR_SHARE) -> float:
    """Predicted seconds until the sweep ends, at job `started` (the jobs before it were
    launched, `parallel` at a time, `elapsed` seconds ago; the `parallel - 1` last launched
    still run, half done). Fixed costs count as predicted; the epochs' cost is scaled by the
    pace of the finished jobs (elapsed, less their fixed cost, over their epochs' cost),
    shrunk towards 1 by a `prior` share of the sweep's epochs counted as run at pace 1, so
    that the first jobs do not decide alone. Everything runs `parallel` at a time."""
    running = min(parallel - 1, started)
    done, flight, todo = (costs[:started - running], costs[started - running:started],
                          costs[started:])
    weight = prior * sum(c.epochs for c in costs)
    spent = max(0.0, elapsed * parallel - sum(c.fixed for c in done))
    run = sum(c.epochs for c in done)
    pace = (spent + weight) / (run + weight) if run + weight > 0 else 1.0
    left_fixed = sum(c.fixed for c in todo) + sum(c.fixed for c in flight) / 2
    left_epochs = sum(c.epochs for c in todo) + sum(c.epochs for c in flight) / 2
    return (left_fixed + pace * left_epochs) / parallel
