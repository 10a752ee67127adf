"""A sweep's job list and its time-left estimate (`precheck`'s configs, mfh.harness.estimate)."""

import pytest
from conftest import run_py
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from mfh.harness.config import precheck
from mfh.harness.estimate import job_costs, seconds_left


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
    costs = job_costs(precheck(args).configs)
    dense, hashed, mfh = costs[0:2], costs[2:4], costs[4:6]
    assert dense[0] == dense[1] and mfh[0] == mfh[1]
    assert dense[0] < hashed[0] < mfh[0]
    half = job_costs(precheck([*args[:-1], "epochs=5", args[-1]]).configs)
    builds = [2 * h - c for h, c in zip(half, costs, strict=True)]   # the models' build time
    assert all(0 <= b < c / 10 for b, c in zip(builds, costs, strict=True))
    run_py("model=mfh", "seed=1", *quick, "epochs=10", f"results_dir={tmp_path}")
    assert job_costs(precheck([*args[:-1], *quick, "epochs=10", args[-1]]).configs)[5] == 0


def test_seconds_left_scales_the_prediction_by_the_pace_so_far():
    costs = [1.0, 1.0, 4.0, 4.0]
    assert seconds_left(costs, 0, 0.0) == 8 + 2    # nothing run yet: the prediction
    assert seconds_left(costs, 2, 10.0) == 8 * 5   # the first two took 5x their prediction
    assert seconds_left([0.0, 0.0, 3.0], 2, 1.0) == 3   # only skipped jobs so far
