"""Wall and CPU time of one 8-job sweep under each launcher (a benchmark, not a test).

    python scripts/bench_launchers.py [--jobs 8] [--epochs 3]

Runs `run.py -m model=hashednets seed=0..7 ...` into a fresh folder per launcher: basic (one
job after another, all cores each), local (joblib, one job per core, one thread each) and, when
`scripts/slurm_local.sh status` says a local Slurm is up, slurm (one core per task). CPU time is
that of the launcher and everything it started (children), so Slurm's jobs, started by slurmd,
are not in it. Prints one line per launcher.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the finished children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    launchers = {"basic": [], "local": ["hydra/launcher=local"]}
    slurm = subprocess.run(["bash", "scripts/slurm_local.sh", "status"], cwd=ROOT,
                           capture_output=True)
    if slurm.returncode == 0:
        launchers["slurm"] = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1"]
    env = {**os.environ, "WANDB_MODE": "offline", "MFH_SLURM_PARTITION": "debug"}
    seeds = ",".join(map(str, range(args.jobs)))
    print(f"{args.jobs} jobs: model=hashednets, {args.epochs} epochs on 1,600 mnist5k digits, "
          f"{os.cpu_count()} cores")
    for name, launcher in launchers.items():
        with tempfile.TemporaryDirectory() as results:
            command = [sys.executable, "run.py", "-m", *launcher, "model=hashednets",
                       f"seed={seeds}", f"epochs={args.epochs}", "train_limit=1600",
                       "logger=none", "checkpoint=false", f"results_dir={results}"]
            wall, cpu = timed(command, env)
        print(f"{name:6s} wall {wall:6.1f} s   CPU (launcher + children) {cpu:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
