"""A sweep's job list and its time-left estimate (`precheck`'s configs, mfh.harness.estimate)."""

import pytest
import torch
from conftest import run_py
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from mfh.harness import estimate
from mfh.harness.config import precheck
from mfh.harness.estimate import JOB_OVERHEAD_S, Cost, job_costs, seconds_left


@pytest.mark.parametrize("args", [
    ["model=dense,mfh", "seed=0,1,2", "epochs=3"],
    ["seed=0,1", "epochs=2,3", "model=hashednets,mfh", "compression=0.125,0.25"],
    ["seed=4,5", "model=mfh", "seed=7,8,9"],      # a repeated key keeps its first place
])
def test_job_configs_come_in_the_order_hydra_launches_them(tmp_path, args):
    args = [*args, f"results_dir={tmp_path}"]
    sweep = precheck(["-m", *args])
    hydra_jobs = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args),
                                              None)[0]
    assert sweep.jobs == len(hydra_jobs) == len(sweep.configs)
    for cfg, job in zip(sweep.configs, hydra_jobs, strict=True):
        for text in job:
            key, value = text.split("=")
            got = cfg.model.name if key == "model" else cfg[key]
            assert str(got) == value, (key, job)


def test_costs_follow_the_models_and_finished_records_cost_nothing(tmp_path, quick):
    """make demo's case: three U4-G3 jobs after six cheaper ones must not be predicted as
    cheap as them (the old estimate took the mean time of the jobs run so far)."""
    args = ["-m", "model=dense,hashednets,mfh", "seed=0,1", "epochs=10", "logger=none",
            f"results_dir={tmp_path}"]
    costs = [c.total for c in job_costs(precheck(args).configs)]
    dense, hashed, mfh = costs[0:2], costs[2:4], costs[4:6]
    assert dense[0] == dense[1] and hashed[0] == hashed[1] and mfh[0] == mfh[1]
    # measured step times: U4-G3 costs more than either (README: 36 against 7.5 and 14 s per
    # epoch on fashion_mnist); dense and HashedNets are close on a CPU (a loaded machine has
    # swapped them), so they are not ordered here
    assert max(dense[0], hashed[0]) < mfh[0]
    half = [c.total for c in job_costs(precheck([*args[:-1], "epochs=5", args[-1]]).configs)]
    fixed = [2 * h - c for h, c in zip(half, costs, strict=True)]   # overhead, data, build
    assert all(JOB_OVERHEAD_S <= f < c / 2 for f, c in zip(fixed, costs, strict=True))
    run_py("model=mfh", "seed=1", *quick, "epochs=10", f"results_dir={tmp_path}")
    assert job_costs(precheck([*args[:-1], *quick, "epochs=10", args[-1]]).configs)[5] == (0, 0)


def test_seconds_left_scales_the_epochs_by_the_pace_so_far():
    costs = [Cost(1.0, 9.0), Cost(1.0, 9.0), Cost(2.0, 38.0), Cost(2.0, 38.0)]
    assert seconds_left(costs, 0, 0.0, prior=0) == 100   # nothing run: the prediction
    # the first two took 10 s each: their epochs at pace (20 - 2) / 18 = 1
    assert seconds_left(costs, 2, 20.0, prior=0) == pytest.approx(80)
    # ... 38 s: pace 2 for the epochs, the fixed part as predicted
    assert seconds_left(costs, 2, 38.0, prior=0) == pytest.approx(4 + 2 * 76)
    # a prior share of the epochs (94 x 0.5 = 47 s) run at pace 1 shrinks the pace to 83 / 65
    assert seconds_left(costs, 2, 38.0, prior=0.5) == pytest.approx(4 + 83 / 65 * 76)
    assert seconds_left([Cost(0, 0), Cost(0, 0), Cost(1, 2)], 2, 1.0, prior=0) == 3
    # two at a time: the job launched last still runs (half left); worker-seconds are
    # twice the elapsed time, and the rest is shared by the two workers
    assert seconds_left(costs, 2, 15.0, parallel=2, prior=0) == pytest.approx(
        (4 + 0.5 + (30 - 1) / 9 * (76 + 4.5)) / 2)
    assert seconds_left(costs, 0, 0.0, parallel=2, prior=0) == 50


def test_a_model_is_timed_on_its_jobs_threads(tmp_path, monkeypatch):
    """A sweep of one-thread jobs beside other work is timed on one thread (two threads on a
    busy machine slow every step several times over), and the caller's count is kept."""
    seen = []
    monkeypatch.setattr(estimate, "_timed", lambda *a: seen.append(torch.get_num_threads())
                        or (0.0, 0.0, 0.0))
    monkeypatch.setattr(estimate, "_measured", {})
    before = torch.get_num_threads()
    args = ["-m", "model=dense", "seed=0,1", f"results_dir={tmp_path}", "logger=none"]
    job_costs(precheck([*args, "threads=1"]).configs)
    job_costs(precheck([*args, "threads=2"]).configs)
    assert seen == [1, 2] and torch.get_num_threads() == before
