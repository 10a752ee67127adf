"""Recipe tuning that holds across seeds: a seeded Optuna study, driven ask-and-tell.

One study per (dataset, model family) at a layout's budget. A trial proposes the family's
search space (experiments/tuning.yaml) and is scored by the mean validation error over the
tuning seeds (each with its own split, `data_seed = seed`, disjoint from the table's seeds); a
seed that fails or diverges scores 100, so a recipe that kills one seed in three loses. Every
trial seed is an ordinary record under `<results_dir>/tuning` (resumable; a finished record is
read, not rerun).

Pruning: while a trial's first seed trains, its validation error is reported after every
epoch, and Optuna's percentile pruner stops the trial when that error is clearly worse: worse
than `prune_percentile`% of the earlier trials at the same epoch (from epoch `warmup + 1`, once
`pruner_startup` trials have finished). A
pruned run writes no record; its per-epoch state stays, so a rerun replays its epochs to the
pruner (the same history gives the same decision) without training. The sampler is TPE with a
fixed seed and the trials run one at a time, so a rerun asks the same trials.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import yaml
from omegaconf import DictConfig, OmegaConf

from mfh.harness.config import CONF_DIR, compose_config, validate
from mfh.harness.families import family_overrides
from mfh.harness.records import read_record, record_path
from mfh.harness.runner import Pruned, Watch, existing_ok, run
from mfh.harness.train import EpochLog

SPACES = CONF_DIR.parent / "experiments" / "tuning.yaml"
FAILED = 100.0   # the score of a seed that failed or diverged (% validation error)
READ_BACK_S = 5.0   # a trial quicker than this was read from its records, not trained


@dataclass(frozen=True)
class Tuning:
    """How a layout tunes its recipes: the tuning `seeds` (each a trial's seed and data
    seed), `n_trials` trials of which the first `n_startup_trials` are random (TPE after them,
    sampler seeded `sampler_seed`); the pruner stops a trial whose first seed's validation
    error is worse than `prune_percentile`% of the earlier trials' at that epoch, from trial
    `pruner_startup + 1` and epoch `warmup + 1`."""

    seeds: tuple[int, ...] = (100, 101, 102)
    n_trials: int = 16
    n_startup_trials: int = 6
    sampler_seed: int = 0
    pruner_startup: int = 5
    warmup: int = 5
    prune_percentile: float = 75.0

    def __post_init__(self) -> None:
        if not self.seeds or self.n_trials < 1:
            raise ValueError("tuning needs at least one seed and one trial")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))

    @classmethod
    def from_layout(cls, data: dict) -> Tuning:
        """A layout's `tuning:` mapping; `seed: s` (layouts tuned before issue 27, on one
        seed with Hydra's Optuna sweeper) reads as `seeds: [s]`."""
        data = dict(data)
        if "seed" in data:
            data["seeds"] = [data.pop("seed")]
        return cls(**data)

    @property
    def seed(self) -> int:
        """The first tuning seed (the captions of one-seed layouts name it)."""
        return self.seeds[0]


@dataclass
class Trial:
    """One trial: its proposed `params`, the validation error of each seed run (None: not run,
    after a prune), its `state` (complete | pruned) and, if pruned, the epoch."""

    number: int
    params: dict[str, float]
    errors: dict[int, float | None] = field(default_factory=dict)
    state: str = "complete"
    pruned_epoch: int | None = None

    @property
    def value(self) -> float | None:
        """The objective: mean validation error over the seeds (None if pruned)."""
        if self.state != "complete":
            return None
        return statistics.fmean(e for e in self.errors.values() if e is not None)


def search_space(family: str) -> dict[str, optuna.distributions.FloatDistribution]:
    """The tuned keys of a model family and their ranges, from experiments/tuning.yaml."""
    spaces = yaml.safe_load(SPACES.read_text())["spaces"]
    if family not in spaces:
        raise ValueError(f"no search space for model={family} in {SPACES}; "
                         f"families: {', '.join(spaces)}")
    return {key: optuna.distributions.FloatDistribution(float(r["low"]), float(r["high"]),
                                                        log=bool(r.get("log", False)))
            for key, r in spaces[family].items()}


def base_overrides(family: str, dataset: str, common: tuple[str, ...],
                   results_dir: Path, folder: str = "tuning") -> list[str]:
    """The overrides every trial seed of (family, dataset) shares (records in
    `<results_dir>/<folder>`)."""
    return [*family_overrides(family), *common, f"dataset={dataset}",
            f"results_dir={Path(results_dir) / folder}"]


def trial_config(base: DictConfig, params: dict[str, float], seed: int) -> DictConfig:
    """One trial seed's config: the base, the proposed values, the seed, and its own split
    (`data_seed=seed`)."""
    cfg = base.copy()
    for key, value in {**params, "seed": seed, "data_seed": "seed"}.items():
        OmegaConf.update(cfg, key, value, force_add=False)
    return cfg


def _watch(trial: optuna.Trial) -> Watch:
    """Report each epoch's validation error to `trial`; stop the run when Optuna prunes."""
    def report(log: EpochLog) -> None:
        trial.report(log.valid_error, log.epoch)
        if trial.should_prune():
            raise Pruned(log.epoch)
    return report


def seed_error(cfg: DictConfig, watch: Watch | None = None, progress: str = "") -> float:
    """Validation error (%) of one trial seed at its best epoch (FAILED if it failed): read
    from its record if finished, else trained (`watch` sees each epoch); a seed that another
    process is training is waited for, then read. `watch` sees the curve of a record read
    back, as if trained here. Raises Pruned when `watch` stops it."""
    spec = validate(cfg)
    path = record_path(spec.results_dir, spec.config, spec.seed)
    seen: list[int] = []

    def watching(log: EpochLog) -> None:
        seen.append(log.epoch)
        if watch is not None:
            watch(log)

    if not (existing_ok(path) or _diverged(path)):   # a divergence is deterministic: read
        waiting = cfg.copy()
        OmegaConf.update(waiting, "lock_wait", True)
        run(waiting, progress, watch=watching)
    record = read_record(path)
    if watch is not None and not seen and record["metrics"]:
        curves = record["metrics"]["curves"]
        for epoch, valid in enumerate(curves["valid_error"], 1):
            watch(EpochLog(epoch, curves["train_loss"][epoch - 1], valid, None, 0, 0, 0))
    return record["metrics"]["valid_error"] if record["status"] == "ok" else FAILED


def _diverged(path: Path) -> bool:
    """Whether `path` holds the record of a run that diverged (failed without a traceback)."""
    if not path.exists():
        return False
    record = read_record(path)
    return record["status"] == "failed" and "traceback" not in (record["failure"] or {})


def tune(family: str, dataset: str, common: tuple[str, ...], tuning: Tuning,
         results_dir: Path, extra: tuple[str, ...] = (),
         start: dict[str, float] | None = None, folder: str = "tuning") -> list[Trial]:
    """Run (or read back) the study of (family, dataset); return its trials in order.
    `start`: the values of trial 1 (e.g. a recipe tuned elsewhere, so that the study's best
    is at least as good as it on this study's validation error); the sampler proposes the
    rest. Trial records go to `<results_dir>/<folder>`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = search_space(family)
    base = compose_config([*base_overrides(family, dataset, common, results_dir, folder),
                           *extra])
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=tuning.sampler_seed,
                                           n_startup_trials=tuning.n_startup_trials),
        # Optuna prunes at a step >= n_warmup_steps; a step is an epoch, counted from 1
        pruner=optuna.pruners.PercentilePruner(tuning.prune_percentile,
                                               n_startup_trials=tuning.pruner_startup,
                                               n_warmup_steps=tuning.warmup + 1))
    if start is not None:
        study.enqueue_trial(start)
    trials, spent = [], []   # spent: seconds of each trial that trained (not read back)
    for number in range(tuning.n_trials):
        began = time.time()
        asked = study.ask(space)
        trial = Trial(number, dict(asked.params))
        where = f"tuning {family} on {dataset}, trial {number + 1}/{tuning.n_trials}"
        try:
            for k, seed in enumerate(tuning.seeds):
                trial.errors[seed] = seed_error(trial_config(base, trial.params, seed),
                                                _watch(asked) if k == 0 else None, where)
        except Pruned as stop:
            trial.state, trial.pruned_epoch = "pruned", stop.epoch
            study.tell(asked, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(asked, trial.value)
        took = time.time() - began
        if took > READ_BACK_S:
            spent.append(took)
        print(f"{where}: {describe(trial)}; {_left(spent, tuning.n_trials - number - 1)}",
              flush=True)
        trials.append(trial)
    return trials


def _left(spent: list[float], trials_left: int) -> str:
    """The study's time left, from the mean of the trials this process trained."""
    if not trials_left:
        return "study done"
    if not spent:
        return "time left not measured yet (the trials so far were read back)"
    return f"about {sum(spent) / len(spent) * trials_left / 60:.1f} min left in the study"


def describe(trial: Trial) -> str:
    params = ", ".join(f"{k}={v:.4g}" for k, v in trial.params.items())
    if trial.state == "pruned":
        return f"{params}: pruned at epoch {trial.pruned_epoch} of its first seed"
    errors = ", ".join(f"seed {s}: {e:.2f}" for s, e in trial.errors.items())
    return f"{params}: mean validation error {trial.value:.2f}% ({errors})"


def best(trials: list[Trial]) -> Trial:
    """The complete trial of lowest mean validation error (the earliest on a tie)."""
    complete = [t for t in trials if t.value is not None and math.isfinite(t.value)]
    if not complete:
        raise LookupError("no complete tuning trial")
    return min(complete, key=lambda t: t.value)
