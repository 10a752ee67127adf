"""Robust recipe tuning (mfh/harness/tuning.py): a seeded ask-and-tell Optuna study scored over
several seeds, each trial seed an ordinary record, pruning that a rerun replays."""

import threading

import pytest
from filelock import FileLock

from mfh.harness.config import compose_config, validate
from mfh.harness.records import read_record, record_path
from mfh.harness.runner import Pruned, state_path
from mfh.harness.tuning import FAILED, Trial, Tuning, _left, best, search_space, seed_error, tune

COMMON = ("arch=mlp3", "epochs=3", "train_limit=200")
EXTRA = ("logger=none", "checkpoint=false")


def where(cfg):
    spec = validate(cfg)
    return record_path(spec.results_dir, spec.config, spec.seed)


def test_reruns_ask_the_same_trials_read_their_records_and_replay_their_prunes(tmp_path,
                                                                             capsys):
    tuning = Tuning(seeds=(100, 101), n_trials=5, n_startup_trials=2, pruner_startup=1,
                    warmup=0)
    first = tune("hashednets", "mnist5k", COMMON, tuning, tmp_path / "a", EXTRA)
    second = tune("hashednets", "mnist5k", COMMON, tuning, tmp_path / "b", EXTRA)
    assert [(t.params, t.state, t.errors) for t in first] == \
        [(t.params, t.state, t.errors) for t in second]
    assert set(first[0].params) == set(search_space("hashednets")) == {"optim.lr",
                                                                      "optim.momentum"}
    for t in first:
        assert (t.value is None) == (t.state == "pruned")
        if t.state == "complete":
            assert list(t.errors) == [100, 101] and t.value == sum(t.errors.values()) / 2
    records = sorted((tmp_path / "a" / "tuning" / "runs").glob("*/seed=*.json"))
    assert {read_record(p)["config"]["data_seed"] for p in records} == {"seed"}
    assert {read_record(p)["seed"] for p in records} == {100, 101}
    stamps = {p: p.stat().st_mtime_ns for p in records}
    capsys.readouterr()
    again = tune("hashednets", "mnist5k", COMMON, tuning, tmp_path / "a", EXTRA)
    lines = [line for line in capsys.readouterr().out.splitlines() if "trial" in line]
    assert "min left" not in " ".join(lines) and lines[-1].endswith("study done")
    assert [(t.params, t.state, t.errors) for t in again] == \
        [(t.params, t.state, t.errors) for t in first]
    assert {p: p.stat().st_mtime_ns for p in records} == stamps   # nothing retrained


def test_a_pruned_run_keeps_its_state_and_a_rerun_replays_it_without_training(tmp_path):
    cfg = compose_config(["model=hashednets", *COMMON, "seed=7", "data_seed=seed", *EXTRA,
                          f"results_dir={tmp_path}"])
    seen = []

    def stop_at_2(log):
        seen.append(log.epoch)
        if log.epoch == 2:
            raise Pruned(log.epoch)

    with pytest.raises(Pruned):
        seed_error(cfg, stop_at_2)
    path = where(cfg)
    assert seen == [1, 2] and not path.exists() and state_path(path).exists()
    stamp = state_path(path).stat().st_mtime_ns
    with pytest.raises(Pruned):
        seed_error(cfg, stop_at_2)   # replayed from the state: epochs 1, 2 again, no training
    assert seen == [1, 2, 1, 2] and state_path(path).stat().st_mtime_ns == stamp
    error = seed_error(cfg, lambda log: seen.append(log.epoch))   # lets it go on: epoch 3
    assert seen[4:] == [1, 2, 3] and error == read_record(path)["metrics"]["valid_error"]


def test_a_seed_another_process_is_training_is_waited_for_then_read(tmp_path):
    cfg = compose_config(["model=hashednets", *COMMON, "seed=3", "data_seed=seed", *EXTRA,
                          f"results_dir={tmp_path}"])
    error = seed_error(cfg)
    path = where(cfg)
    done = path.read_bytes()
    path.unlink()
    lock = FileLock(path.with_suffix(".lock"))   # "another process" trains seed 3
    lock.acquire()
    seen, answer = [], []
    waiter = threading.Thread(target=lambda: answer.append(
        seed_error(cfg, lambda log: seen.append(log.epoch))))
    waiter.start()
    waiter.join(timeout=1.0)
    assert waiter.is_alive() and not answer   # it waits instead of training or failing
    path.write_bytes(done)                    # ... which finishes and lets go
    lock.release()
    waiter.join(timeout=60)
    assert answer == [error] and seen == [1, 2, 3] and path.read_bytes() == done


def test_a_diverged_seed_scores_100_and_is_read_not_rerun(tmp_path):
    cfg = compose_config(["model=hashednets", *COMMON, "optim.lr=1e6", "seed=1", *EXTRA,
                          f"results_dir={tmp_path}"])
    assert seed_error(cfg) == FAILED
    stamp = where(cfg).stat().st_mtime_ns
    assert read_record(where(cfg))["status"] == "failed"
    assert seed_error(cfg) == FAILED and where(cfg).stat().st_mtime_ns == stamp


def test_time_left_is_the_mean_trained_trial_times_the_trials_left():
    assert _left([60.0, 180.0], 3) == "about 6.0 min left in the study"
    assert "not measured" in _left([], 3) and _left([60.0], 0) == "study done"


def test_the_best_trial_has_the_lowest_mean_and_the_earliest_wins_a_tie():
    trials = [Trial(0, {"optim.lr": 0.1}, {100: 5.0, 101: 7.0}),
              Trial(1, {"optim.lr": 0.2}, {100: 2.0, 101: FAILED}),   # killed one seed: 51
              Trial(2, {"optim.lr": 0.3}, {100: 6.0, 101: 6.0}),
              Trial(3, {"optim.lr": 0.4}, {100: 1.0}, "pruned", 4)]
    assert [t.value for t in trials] == [6.0, 51.0, 6.0, None]
    assert best(trials).number == 0
    with pytest.raises(LookupError):
        best(trials[3:])


def test_layouts_tuned_on_one_seed_still_load():
    old = Tuning.from_layout({"seed": 100, "n_trials": 8, "n_startup_trials": 4})
    assert (old.seeds, old.seed, old.n_trials) == ((100,), 100, 8)
    with pytest.raises(ValueError, match="at least one seed"):
        Tuning(seeds=())


def test_a_study_started_from_a_recipe_runs_it_as_trial_1_and_keeps_the_better(tmp_path):
    tuning = Tuning(seeds=(100,), n_trials=3, n_startup_trials=2, pruner_startup=5)
    start = {"optim.lr": 0.05, "optim.momentum": 0.5}
    trials = tune("hashednets", "mnist5k", COMMON, tuning, tmp_path, EXTRA, start=start)
    assert trials[0].params == start and trials[0].state == "complete"
    assert trials[1].params != start
    assert best(trials).value <= trials[0].value
