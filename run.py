"""Entry point: `python run.py [overrides]`, or `python run.py -m ...` for a sweep.

Composes conf/ with Hydra and hands each job to `mfh.harness.runner.run`. Before Hydra starts,
`precheck` reads the overrides with Hydra's own parser: an unknown key, group option or a bad
value stops with one line naming the key and what is allowed (exit code 2, nothing written).
A single run that fails (NaN loss, exception) writes a failed record and exits 1.
"""

import os
import sys
import time

from mfh import numerics

numerics.apply(sys.argv[1:])   # before torch starts: portable mode pins its back-ends

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from mfh.data import DatasetUnavailable  # noqa: E402
from mfh.harness.config import ConfigError, Sweep, precheck  # noqa: E402
from mfh.harness.estimate import job_costs, seconds_left  # noqa: E402
from mfh.harness.records import read_record  # noqa: E402
from mfh.harness.runner import run  # noqa: E402


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def launcher_threads() -> int | None:
    """Torch threads for a job of a parallel launcher: its share of the cores (joblib: cores
    / n_jobs; submitit: cpus_per_task); None for the basic launcher (all cores)."""
    launcher = HydraConfig.get().launcher
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        jobs = launcher.get("n_jobs") or 1
        cores = os.cpu_count() or 1
        return max(1, cores // jobs) if jobs > 0 else 1
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 1)
    return None


def sweep_progress() -> str:
    """"job k/N" and the time left, for a job of a multirun: from every job's predicted cost
    (`mfh.harness.estimate`) scaled by the pace so far, or, where the jobs are not known in
    advance (a tuning sweeper's), from the mean time per job. N, the costs and the start come
    from the environment run.py sets, so launchers' workers see them."""
    if HydraConfig.get().mode != RunMode.MULTIRUN or "MFH_SWEEP_JOBS" not in os.environ:
        return ""
    trials = HydraConfig.get().sweeper.get("n_trials")   # a tuning sweeper proposes its jobs
    done, total = HydraConfig.get().job.num, trials or int(os.environ["MFH_SWEEP_JOBS"])
    elapsed = time.time() - float(os.environ["MFH_SWEEP_START"])
    costs = [float(c) for c in os.environ.get("MFH_SWEEP_COSTS", "").split(",") if c]
    line = f"job {done + 1}/{total}"
    if len(costs) == total and not trials:
        line += f", about {format_duration(seconds_left(costs, done, elapsed))} left in the sweep"
    elif done:
        line += f", about {format_duration(elapsed / done * (total - done))} left in the sweep"
    return line


def format_duration(seconds: float) -> str:
    """"40 s", "12.5 min" or "3.2 h"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def predict(sweep: Sweep) -> None:
    """Put each job's predicted cost where sweep_progress finds it, and say the total."""
    if sweep.configs is None or sweep.jobs < 2:
        return
    costs = job_costs(sweep.configs)
    os.environ["MFH_SWEEP_COSTS"] = ",".join(f"{c:.4g}" for c in costs)
    todo = sum(c > 0 for c in costs)
    print(f"sweep: {sweep.jobs} jobs, {todo} to run, predicted about "
          f"{format_duration(sum(costs))} (each job's measured step time x its steps; the "
          "progress lines correct it by the pace so far)", flush=True)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """One job; returns its validation error (%) at the best epoch for a tuning sweeper
    (hydra/sweeper=tune), 100 for a failed run, None for a job running elsewhere."""
    if cfg.threads is None:
        OmegaConf.update(cfg, "threads", launcher_threads())
    try:
        path, status = run(cfg, sweep_progress(), list(HydraConfig.get().overrides.task))
    except (ConfigError, DatasetUnavailable) as err:
        fail(str(err))
    # A failed job of a sweep is recorded and the sweep goes on; a single failed run exits 1.
    if status == "failed" and HydraConfig.get().mode != RunMode.MULTIRUN:
        sys.exit(1)
    if status == "running":
        return None
    return read_record(path)["metrics"]["valid_error"] if status == "ok" else 100.0


if __name__ == "__main__":
    try:
        sweep = precheck(sys.argv[1:])
        if "-m" in sys.argv or "--multirun" in sys.argv:
            predict(sweep)
    except (ConfigError, DatasetUnavailable) as err:
        fail(str(err))
    os.environ["MFH_SWEEP_JOBS"] = str(sweep.jobs)   # read by sweep_progress, in workers too
    os.environ["MFH_SWEEP_START"] = str(time.time())
    main()
