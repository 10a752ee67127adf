"""Shared test helpers: the repo root and a runner for `run.py` in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_py(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python run.py ARGS` from the repo root, offline, returning the completed process."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def quick() -> list[str]:
    """Overrides for a run of a few seconds: 1 epoch on a few hundred examples, no logger."""
    return ["epochs=1", "train_limit=300", "logger=none"]
