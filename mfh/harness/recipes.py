"""Tuned recipes: the optimiser settings chosen on validation error for one (dataset, model
family), kept as Hydra configs `conf/recipe/<dataset>_<family>.yaml` that a run adds with
`+recipe=<name>` and a table layout adds per column (`recipe:` in the layout).

A recipe comes from a tuning sweep (`tune_command`): the seeded Optuna sweep of
`conf/experiment/tune_<family>.yaml` at a layout's budget, on a seed the table does not use,
whose trials are ordinary records under `<results_dir>/tuning`. `best_trial` picks, among the
records of that (dataset, family, budget, seed) (configurations equal except in the tuned
keys), the lowest validation error, the earliest trial on a tie; `write_recipe` writes its
tuned values and where they came from. Test error is never looked at.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from mfh.harness.config import CONF_DIR, compose_config, set_dotted, to_dict
from mfh.harness.records import iter_records
from mfh.harness.signature import signature

RECIPE_DIR = CONF_DIR / "recipe"


@dataclass(frozen=True)
class Tuning:
    """How a layout tunes its recipes: the trials' seed, their number and how many of them
    are random before the TPE sampler models the others."""

    seed: int = 100
    n_trials: int = 12
    n_startup_trials: int = 6


def recipe_path(name: str) -> Path:
    return RECIPE_DIR / f"{name}.yaml"


def tuned_keys(family: str) -> tuple[str, ...]:
    """The dotted keys `conf/experiment/tune_<family>.yaml` searches, e.g. ("optim.lr", ...)."""
    path = CONF_DIR / "experiment" / f"tune_{family}.yaml"
    if not path.exists():
        raise ValueError(f"no tuning experiment for model={family} ({path} is missing)")
    return tuple(yaml.safe_load(path.read_text())["hydra"]["sweeper"]["params"])


def tuning_overrides(family: str, dataset: str, common: tuple[str, ...],
                     tuning: Tuning) -> list[str]:
    """The overrides of one tuning sweep (without results_dir and pass-through keys)."""
    return [f"+experiment=tune_{family}", *common, f"dataset={dataset}", f"seed={tuning.seed}",
            f"hydra.sweeper.n_trials={tuning.n_trials}",
            f"hydra.sweeper.sampler.n_startup_trials={tuning.n_startup_trials}"]


def tune_command(family: str, dataset: str, common: tuple[str, ...], tuning: Tuning,
                 results_dir: Path, extra: list[str]) -> tuple[str, list[str]]:
    """(progress line, argv) of the tuning sweep of (family, dataset) at `common`'s budget."""
    argv = [sys.executable, "run.py", "-m",
            *tuning_overrides(family, dataset, common, tuning),
            f"results_dir={results_dir / 'tuning'}", *extra]
    return (f"tuning model={family} on {dataset}: {tuning.n_trials} trials at seed "
            f"{tuning.seed}", argv)


def trials(family: str, dataset: str, common: tuple[str, ...], tuning: Tuning,
           results_dir: Path) -> list[dict]:
    """The ok records under `<results_dir>/tuning` of this tuning problem, in trial order."""
    keys = tuned_keys(family)
    sweep = [o for o in tuning_overrides(family, dataset, common, tuning)
             if not o.startswith("hydra.")]
    base = signature(to_dict(compose_config(sweep)), drop=keys)
    found = [r for r in iter_records(results_dir / "tuning")
             if r["status"] == "ok" and r["seed"] == tuning.seed
             and signature(r["config"], drop=keys) == base]
    return sorted(found, key=lambda r: r["started"])


def _value(config: dict, dotted: str) -> object:
    node = config
    for part in dotted.split("."):
        node = node[part]
    return node


def best_trial(records: list[dict]) -> dict:
    """The trial with the lowest validation error (the earliest one on a tie)."""
    if not records:
        raise LookupError("no finished tuning trial")
    return min(records, key=lambda r: r["metrics"]["valid_error"])


def write_recipe(name: str, family: str, records: list[dict], results_dir: Path) -> Path:
    """Write `conf/recipe/<name>.yaml` from the best of `records`; return its path."""
    best = best_trial(records)
    recipe: dict = {}
    for key in tuned_keys(family):
        set_dotted(recipe, key, _value(best["config"], key))
    m = best["metrics"]
    where = Path(results_dir) / "tuning" / "runs" / best["signature"] / f"seed={best['seed']}.json"
    if where.is_relative_to(CONF_DIR.parent):
        where = where.relative_to(CONF_DIR.parent)
    header = [
        "# @package _global_",
        f"# Tuned recipe of model={family} ({best['label']}) on {best['dataset']}, written by",
        "# scripts/tune.py (mfh/harness/recipes.py) from the tuning trials; do not edit by hand.",
        f"# Best of {len(records)} trials (seed {best['seed']}, "
        f"{best['config']['epochs']} epochs at most, patience {best['config']['patience']}): "
        f"validation error {m['valid_error']:.2f}%",
        f"# at epoch {m['best_epoch']} ({where}).",
        "# Chosen on validation error only; the trials' test errors are not read.",
    ]
    path = recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(recipe, sort_keys=False))
    return path
