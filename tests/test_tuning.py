"""Recipe tuning with the seeded Optuna sweeper: trials are ordinary records, a rerun proposes
the same trials, and the sweeper sees the validation error."""

import json
import os
import subprocess
import sys

import yaml
from conftest import ROOT

ARGS = ["-m", "+experiment=tune_hashednets", "hydra.sweeper.n_trials=3", "epochs=1",
        "train_limit=200", "logger=none", "checkpoint=false"]


def tune(results) -> tuple[list[dict], str]:
    proc = subprocess.run([sys.executable, "run.py", *ARGS, f"results_dir={results}"], cwd=ROOT,
                          env={**os.environ, "WANDB_MODE": "offline"}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(p.read_text()) for p in sorted(results.glob("runs/*/seed=*.json"))]
    return records, proc.stdout + proc.stderr


def test_tuning_reruns_propose_the_same_trials_and_pick_the_lowest_validation_error(tmp_path):
    first, out = tune(tmp_path / "a")
    second, _ = tune(tmp_path / "b")
    assert len(first) == 3 and "job 3/3" in out
    trials = [(r["config"]["optim"]["lr"], r["config"]["optim"]["momentum"]) for r in first]
    assert trials == [(r["config"]["optim"]["lr"], r["config"]["optim"]["momentum"])
                      for r in second]
    assert {r["label"] for r in first} == {"HashedNets"}
    result = yaml.safe_load(next((tmp_path / "a" / "hydra").glob(
        "*/optimization_results.yaml")).read_text())
    assert result["best_value"] == min(r["metrics"]["valid_error"] for r in first)
    again, out = tune(tmp_path / "a")   # resumes: every trial's record exists
    assert out.count("skip HashedNets") == 3 and len(again) == 3
