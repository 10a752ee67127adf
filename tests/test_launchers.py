"""Parallel launchers: joblib gives the basic launcher's records (in portable numerics with
its one-thread jobs against the basic launcher's two threads); the set-up keeps Hydra's
released versions under the launcher plugins."""

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata

from conftest import ROOT
from hydra import compose, initialize_config_dir

from mfh.harness.config import CONF_DIR

ARGS = ["model=hashednets", "seed=0,1", "epochs=2", "train_limit=300", "logger=none",
        "threads=1", "checkpoint=false"]


def metrics(results) -> dict[int, dict]:
    found = [json.loads(p.read_text()) for p in results.glob("runs/*/seed=*.json")]
    return {r["seed"]: r["metrics"] for r in found}


def sweep_basic_and_local(tmp_path, args: list[str]) -> None:
    """The same sweep with the basic launcher into tmp_path/basic, joblib into tmp_path/local."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    for name, launcher in (("basic", []), ("local", ["hydra/launcher=local"])):
        proc = subprocess.run([sys.executable, "run.py", "-m", *launcher, *args,
                               f"results_dir={tmp_path / name}"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr


def test_joblib_sweep_gives_the_records_of_the_basic_launcher(tmp_path):
    sweep_basic_and_local(tmp_path, ARGS)
    assert metrics(tmp_path / "local") == metrics(tmp_path / "basic")
    assert sorted(metrics(tmp_path / "local")) == [0, 1]


def test_portable_joblib_sweep_of_one_thread_jobs_gives_the_two_thread_records(tmp_path):
    sweep_basic_and_local(tmp_path, ["model=mfh", "numerics=portable",
                                     *(a for a in ARGS if a != "threads=1")])
    threads = {name: {json.loads(p.read_text())["provenance"]["threads"]
                      for p in (tmp_path / name).glob("runs/*/seed=*.json")}
               for name in ("basic", "local")}
    assert threads == {"basic": {2}, "local": {max(1, (os.cpu_count() or 1) // 2)}}
    assert metrics(tmp_path / "local") == metrics(tmp_path / "basic")
    assert sorted(metrics(tmp_path / "local")) == [0, 1]


def test_launcher_presets_extend_the_plugins():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        local = compose("config", ["hydra/launcher=local"], return_hydra_config=True)
        slurm = compose("config", ["hydra/launcher=slurm"], return_hydra_config=True)
    assert local.hydra.launcher._target_.endswith("JoblibLauncher")
    assert local.hydra.launcher.n_jobs == -1
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher")
    assert (slurm.hydra.launcher.cpus_per_task, slurm.hydra.launcher.max_num_timeout) == (1, 3)


def test_setup_keeps_the_pinned_released_hydra():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for package in ("hydra-core", "omegaconf"):
        pinned = next(p.split("==")[1] for p in pins if p.startswith(f"{package}=="))
        installed = metadata.version(package)
        assert installed == pinned and "dev" not in installed
    assert metadata.version("hydra-joblib-launcher") and metadata.version("submitit")
