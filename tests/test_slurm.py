"""Sweeps on a real (single-node, local) Slurm through hydra/launcher=slurm.

The fixture starts Slurm with scripts/slurm_local.sh (installing it with apt when missing) and
stops what it started. Without root or apt the tests skip and say why; on our machines they run.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT

SLURM = ["bash", str(ROOT / "scripts" / "slurm_local.sh")]
ENV = {**os.environ, "WANDB_MODE": "offline", "MFH_SLURM_PARTITION": "debug"}


@pytest.fixture(scope="module")
def slurm():
    running = subprocess.run([*SLURM, "status"], capture_output=True).returncode == 0
    if not running:
        start = subprocess.run([*SLURM, "start"], capture_output=True, text=True, timeout=600)
        if start.returncode == 3:
            pytest.skip(f"no local Slurm here: {start.stderr.strip()}")
        assert start.returncode == 0, start.stderr
    yield
    if not running:
        subprocess.run([*SLURM, "stop"], capture_output=True, timeout=60)


def sweep(results, launcher: list[str], *args: str) -> subprocess.Popen:
    command = [sys.executable, "run.py", "-m", *launcher, "model=hashednets", "logger=none",
               "threads=1", "checkpoint=false", f"results_dir={results}", *args]
    return subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def records(results) -> dict[int, dict]:
    found = [json.loads(p.read_text()) for p in results.glob("runs/*/seed=*.json")]
    return {r["seed"]: r for r in found}


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return out


def test_slurm_sweep_gives_the_records_of_the_basic_launcher(slurm, tmp_path):
    args = ("seed=0,1,2,3", "epochs=2", "train_limit=300")
    finish(sweep(tmp_path / "basic", [], *args))
    finish(sweep(tmp_path / "slurm", ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1"], *args))
    basic, slurm_runs = records(tmp_path / "basic"), records(tmp_path / "slurm")
    assert sorted(slurm_runs) == [0, 1, 2, 3]
    for seed in range(4):
        assert slurm_runs[seed]["metrics"] == basic[seed]["metrics"]


def test_a_preempted_slurm_job_is_requeued_and_resumes_from_its_state(slurm, tmp_path):
    args = ("seed=0", "epochs=5", "train_limit=1600")
    finish(sweep(tmp_path / "basic", [], *args))
    proc = sweep(tmp_path / "slurm", ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1"], *args)
    deadline, log = time.time() + 300, None
    while time.time() < deadline:   # wait until the job has finished epoch 2
        logs = list((tmp_path / "slurm").glob("hydra/*/.submitit/*/*_log.out"))
        if logs and "epoch   2/5" in logs[0].read_text():
            log = logs[0]
            break
        time.sleep(0.2)
    assert log is not None, "the Slurm job never reached epoch 2"
    job = log.name.split("_log")[0].rsplit("_", 1)[0]
    subprocess.run(["scancel", "--signal=USR2", job], check=True)   # submitit's preemption
    while time.time() < deadline:   # Slurm holds a requeued job ~2 min; start it now instead
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T %r"], capture_output=True,
                               text=True).stdout
        if "PENDING" in state:
            # slurmd refuses to launch a job whose credential is from the second it was killed
            # in ("already killed, do not launch batch job"; the job is then lost): wait 2 s.
            time.sleep(2)
            subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)
            break
        time.sleep(0.2)
    out = finish(proc)
    text = "\n".join(p.read_text() for p in log.parent.parent.glob("*/*_log.*"))
    assert "this job is preempted" in text, out
    resumed = records(tmp_path / "slurm")[0]
    assert resumed["resumed_from_epoch"] is not None and resumed["resumed_from_epoch"] >= 2
    assert resumed["metrics"] == records(tmp_path / "basic")[0]["metrics"]
