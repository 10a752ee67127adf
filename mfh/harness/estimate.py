"""What each job of a sweep will cost, predicted before it starts (run.py's time-left line).

A job costs about `build + epochs x (steps per epoch x step time + evaluated examples x
evaluation time per example)`. The times are measured here, once per distinct model: building
the network as the job builds it (architecture, hashing, the dataset's image shape), training
steps at the job's batch size on random inputs (at least MIN_STEPS and MIN_SECONDS), and a
forward in eval mode at the evaluation's batch size.
A job whose record is finished costs nothing (the runner skips it). What the prediction leaves
out (early stopping, data loading, the machine's load, parallel jobs) `scale` takes from the
pace of the jobs run so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

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
_measured: dict[tuple, tuple[float, float, float]] = {}   # a model is timed once per process


def job_costs(configs: Sequence[DictConfig]) -> list[float]:
    """Predicted seconds of each job (0 for a finished record), in the order given."""
    sizes: dict[tuple, tuple[int, int, int, tuple[int, int, int], int]] = {}
    costs = []
    for cfg in configs:
        spec = validate(cfg)
        if existing_ok(record_path(spec.results_dir, spec.config, spec.seed)):
            costs.append(0.0)
            continue
        data_key = (spec.data.name, repr(sorted(spec.data.options.items())), spec.data.data_dir)
        if data_key not in sizes:
            sizes[data_key] = _sizes(spec.data)
        train, valid, test, shape, classes = sizes[data_key]
        train = min(train, spec.train_limit or train)
        model_key = (spec.arch, spec.hashing, spec.optim.batch_size, shape, classes)
        if model_key not in _measured:
            _measured[model_key] = _model_seconds(spec, shape, classes)
        build, step, per_example = _measured[model_key]
        epoch = math.ceil(train / spec.optim.batch_size) * step + (valid + test) * per_example
        costs.append(build + spec.epochs * epoch)
    return costs


def _sizes(data: DataSpec) -> tuple[int, int, int, tuple[int, int, int], int]:
    """(train, valid, test) example counts, image shape and class count of a dataset (the split
    sizes do not depend on the data seed)."""
    splits = load_splits(data)
    return (len(splits.train.y), len(splits.valid.y), len(splits.test.y), splits.shape,
            splits.num_classes)


def _model_seconds(spec: RunSpec, shape: tuple[int, int, int],
                   classes: int) -> tuple[float, float, float]:
    """Seconds to build the model, per training step at the job's batch size, and per
    evaluated example."""
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


def seconds_left(costs: Sequence[float], started: int, elapsed: float) -> float:
    """Predicted seconds until the sweep ends, at job `started` (jobs before it have run,
    taking `elapsed` seconds): the remaining jobs' predicted cost, scaled by the pace so far
    (elapsed over what the jobs run so far were predicted to cost; 1 before any has run)."""
    done, rest = sum(costs[:started]), sum(costs[started:])
    return rest * (elapsed / done if done > 0 else 1.0)
