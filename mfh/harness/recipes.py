"""Tuned recipes: the optimiser settings chosen on validation error for one (dataset, model
family), kept as Hydra configs `conf/recipe/<dataset>_<family>.yaml` that a run adds with
`+recipe=<name>` and a table layout adds per column (`recipe:` in the layout).

A recipe comes from a tuning study (`mfh.harness.tuning`): `write_recipe` writes the tuned
values of its best trial (lowest mean validation error over the tuning seeds) and, in the
header, which trials chose it, their per-seed errors and how many were pruned. Test error is
never looked at.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mfh.harness.config import CONF_DIR, set_dotted
from mfh.harness.tuning import Trial, Tuning, best, describe

RECIPE_DIR = CONF_DIR / "recipe"


def recipe_path(name: str) -> Path:
    return RECIPE_DIR / f"{name}.yaml"


def recipe_values(name: str) -> dict[str, float]:
    """A written recipe's values by dotted key (`{"optim.lr": 0.02, ...}`)."""
    def flat(tree: dict, prefix: str = "") -> dict[str, float]:
        out = {}
        for key, value in tree.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict)
                       else {f"{prefix}{key}": value})
        return out
    return flat(yaml.safe_load(recipe_path(name).read_text()) or {})


def write_recipe(name: str, family: str, dataset: str, trials: list[Trial], tuning: Tuning,
                 budget: tuple[str, ...], what: str | None = None,
                 by: str = "scripts/tune.py", note: str = "",
                 fixed: dict | None = None) -> Path:
    """Write `conf/recipe/<name>.yaml` from the best of `trials`; return its path. `what` was
    tuned (default `model=<family> on <dataset>`), `by` which script; `note`: one more header
    line (e.g. where trial 1 came from); `fixed`: values by dotted key that every trial had
    (e.g. a dark-knowledge student's `distill.teacher_optim`)."""
    chosen = best(trials)
    recipe: dict = {}
    for key, value in {**(fixed or {}), **chosen.params}.items():
        set_dotted(recipe, key, value)
    pruned = sum(t.state == "pruned" for t in trials)
    ranked = sorted((t for t in trials if t.value is not None), key=lambda t: t.value)
    header = [
        "# @package _global_",
        f"# Tuned recipe of {what or f'model={family} on {dataset}'}, written by {by}",
        "# (mfh/harness/tuning.py) from its tuning study; do not edit by hand.",
        f"# Study: {len(trials)} trials ({tuning.n_startup_trials} random, then TPE seeded "
        f"{tuning.sampler_seed}), {pruned} pruned (worse than",
        f"# {tuning.prune_percentile:g}% of the earlier trials at an epoch of their first seed). "
        "A trial's score: its mean",
        f"# validation error over seeds {list(tuning.seeds)} (data_seed = seed; a failed seed "
        "scores 100).",
        "# Budget: " + " ".join(budget) + ".",
        f"# Chosen: trial {chosen.number + 1}: {describe(chosen)}.",
        "# Runners-up: " + ("; ".join(f"trial {t.number + 1}: {t.value:.2f}%" for t in ranked[1:4])
                           or "none") + ".",
        "# Records: <results>/tuning/runs/. Chosen on validation error only; test errors are "
        "not read.",
        *([f"# {note}"] if note else []),
    ]
    path = recipe_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(recipe, sort_keys=False))
    return path


def save_best(name: str, family: str, dataset: str, trials: list[Trial], tuning: Tuning,
              budget: tuple[str, ...], **header) -> Path | None:
    """End a study: write its recipe (`write_recipe`, `header` passed on) and print which trial
    chose it; None, writing nothing, when no trial has a score."""
    try:
        chosen = best(trials)
    except LookupError:
        return None
    path = write_recipe(name, family, dataset, trials, tuning, budget, **header)
    print(f"wrote {path}: trial {chosen.number + 1}, mean validation error {chosen.value:.2f}% "
          f"({sum(t.state == 'pruned' for t in trials)} of {len(trials)} trials pruned)",
          flush=True)
    return path
