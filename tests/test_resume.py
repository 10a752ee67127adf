"""Nothing lost, nothing run twice: per-epoch resume after SIGKILL, locks, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import threading

from conftest import ROOT

from mfh.atomic import write_atomic

ARGS = ["model=mfh", "epochs=4", "train_limit=400", "logger=none", "checkpoint=false"]


def record(results) -> dict:
    return json.loads(next(results.glob("runs/*/seed=0.json")).read_text())


def test_a_killed_run_resumes_from_its_last_epoch_with_identical_numbers(tmp_path):
    command = [sys.executable, "run.py", *ARGS]
    env = {**os.environ, "WANDB_MODE": "offline"}
    subprocess.run([*command, f"results_dir={tmp_path / 'whole'}"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*command, f"results_dir={killed}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if "epoch   2/4" in line:   # the state of epoch 2 is written before this line
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert not list(killed.glob("runs/*/seed=0.json"))
    assert len(list(killed.glob("runs/*/seed=0.state.pt"))) == 1
    again = subprocess.run([*command, f"results_dir={killed}"], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True)
    assert "resuming after epoch 2" in again.stdout
    resumed, whole = record(killed), record(tmp_path / "whole")
    assert resumed["metrics"] == whole["metrics"]   # every curve, bit for bit
    assert resumed["resumed_from_epoch"] == 2 and whole["resumed_from_epoch"] is None
    assert not list(killed.glob("runs/*/*.state.pt"))   # removed with the record written


def test_overlapping_sweeps_train_each_job_once(tmp_path):
    command = [sys.executable, "run.py", "-m", *ARGS[:-1], "epochs=2", "seed=0,1,2,3",
               "threads=1", f"results_dir={tmp_path}"]
    env = {**os.environ, "WANDB_MODE": "offline"}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("done U4-G3") == 4
    assert sorted(p.name for p in tmp_path.glob("runs/*/seed=*.json")) == [
        f"seed={s}.json" for s in range(4)]
    assert len(list((tmp_path / "hydra").iterdir())) == 2   # one sweep folder each
    records = [json.loads(p.read_text()) for p in tmp_path.glob("runs/*/seed=*.json")]
    assert {r["provenance"]["threads"] for r in records} == {1}


def test_concurrent_atomic_writes_of_one_path_never_collide(tmp_path):
    target, errors = tmp_path / "record.json", []

    def writer(k: int) -> None:
        try:
            for i in range(200):
                data = json.dumps([k, i] * 100).encode()
                write_atomic(target, lambda f, data=data: f.write(data))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(json.loads(target.read_text())) == 200
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
