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
from mfh.harness.estimate import Cost, job_costs, seconds_left  # noqa: E402
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
        return max(1, (os.cpu_count() or 1) // parallel_jobs())
    if "submitit" in target:
        return int(launcher.get("cpus_per_task") or 1)
    return None


def parallel_jobs() -> int:
    """Jobs the launcher runs at a time on this machine: joblib's n_jobs (-1: every core),
    else 1 (the basic launcher; a cluster's parallelism is not known here)."""
    launcher = HydraConfig.get().launcher
    if "joblib" not in str(launcher.get("_target_", "")):
        return 1
    jobs = launcher.get("n_jobs") or 1
    return jobs if jobs > 0 else os.cpu_count() or 1


def sweep_progress() -> str:
    """"job k/N" and the time left, for a job of a multirun: from every job's predicted cost
    (`mfh.harness.estimate`) scaled by the pace so far, or, where the costs are unknown, from
    the mean time per job. N, the costs and the start come from the environment run.py sets,
    so launchers' workers see them."""
    if HydraConfig.get().mode != RunMode.MULTIRUN or "MFH_SWEEP_JOBS" not in os.environ:
        return ""
    done, total = HydraConfig.get().job.num, int(os.environ["MFH_SWEEP_JOBS"])
    elapsed = time.time() - float(os.environ["MFH_SWEEP_START"])
    costs = [Cost(*map(float, c.split(":")))
             for c in os.environ.get("MFH_SWEEP_COSTS", "").split(",") if c]
    line = f"job {done + 1}/{total}"
    if len(costs) == total:
        left = seconds_left(costs, done, elapsed, parallel_jobs())
        line += f", about {format_duration(left)} left in the sweep"
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
    os.environ["MFH_SWEEP_COSTS"] = ",".join(f"{c.fixed:.4g}:{c.epochs:.4g}" for c in costs)
    todo = sum(c.total > 0 for c in costs)
    print(f"sweep: {sweep.jobs} jobs, {todo} to run, predicted about "
          f"{format_duration(sum(c.total for c in costs))} at most (each job's measured step "
          "time x its steps, at its most epochs; the progress lines correct it by the pace so "
          "far)", flush=True)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """One job (a failed single run exits 1; a failed job of a sweep is recorded and the sweep
    goes on)."""
    if cfg.threads is None:
        OmegaConf.update(cfg, "threads", launcher_threads())
    try:
        _, status = run(cfg, sweep_progress(), list(HydraConfig.get().overrides.task))
    except (ConfigError, DatasetUnavailable) as err:
        fail(str(err))
    if status == "failed" and HydraConfig.get().mode != RunMode.MULTIRUN:
        sys.exit(1)


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
