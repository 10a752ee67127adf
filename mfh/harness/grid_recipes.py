"""The tuned recipes of a figure experiment (mfh/report/grid.py, `recipe:`): one seeded,
pruned tuning study (mfh.harness.tuning) per (dataset, architecture, model) at each x of its
`tune_at`, and one per (dataset, architecture) for the reference.

A model's first tuned x is tuned from scratch; each later one (e.g. the smallest compression
ratios, where a recipe tuned at 1/8 may no longer be right) starts from the first one's recipe
as its trial 1, so the recipe it writes is the better of the two on its validation error.
Trial seeds are ordinary records under `<the experiment's results folder>/tuning` (resumable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mfh.harness.config import compose_config
from mfh.harness.families import family_of
from mfh.harness.recipes import recipe_path, recipe_values, save_best
from mfh.harness.tuning import tune
from mfh.report.grid import GridExperiment, Point, points, recipe_of


@dataclass(frozen=True)
class GridStudy:
    """One tuning study: `point` (at the x it is tuned at) on `dataset`, writing recipe
    `name`; `start`: the recipe that is its trial 1 (None: from scratch)."""

    dataset: str
    point: Point
    name: str
    start: str | None

    @property
    def where(self) -> str:
        at = "" if self.point.x is None else f" at x={self.point.x:g}"
        return f"{self.point.model} ({self.point.arch}{at}) on {self.dataset}"


def grid_studies(exp: GridExperiment) -> list[GridStudy]:
    """Every study of the experiment, each after the study whose recipe it starts from."""
    keys = list(exp.tune_at or {})
    studies = []
    for dataset in exp.datasets:
        for point in points(exp):
            if point.x is not None and point.x not in keys:
                continue
            start = None if point.x in (None, keys[0]) else recipe_of(exp, point, dataset,
                                                                      at=keys[0])
            studies.append(GridStudy(dataset, point, recipe_of(exp, point, dataset), start))
    rank = {x: k for k, x in enumerate([None, *keys])}
    return sorted(studies, key=lambda s: rank[s.point.x])   # stable: first-x studies first


def tune_grid(exp: GridExperiment, results_dir: Path, extra: list[str],
              only_missing: bool = True, dry_run: bool = False) -> list[str]:
    """Run the studies of the recipes not written yet (`only_missing`; else all) and write
    them; return the studies that found no complete trial (or lack their start recipe).
    `results_dir`: the experiment's own results folder."""
    failed = []
    t = exp.tuning
    for study in grid_studies(exp):
        if only_missing and recipe_path(study.name).exists():
            continue
        progress = (f"tuning {study.where}: {t.n_trials} trials x seeds "
                    f"{', '.join(map(str, t.seeds))}"
                    + (f", trial 1 from {study.start}" if study.start else ""))
        print(progress, flush=True)
        if dry_run:
            continue
        if study.start and not recipe_path(study.start).exists():
            failed.append(f"{progress} (no recipe {study.start})")
            continue
        budget = (*exp.common, *study.point.overrides)
        family = family_of(compose_config(list(budget)))
        trials = tune(family, study.dataset, budget, t, results_dir, tuple(extra),
                      start=recipe_values(study.start) if study.start else None)
        note = (f"Trial 1 is {study.start} (tuned at x={next(iter(exp.tune_at)):g}), so this "
                "is the better of the two here." if study.start else "")
        if save_best(study.name, family, study.dataset, trials, t, budget, what=study.where,
                     by=f"scripts/figure.py ({exp.name})", note=note) is None:
            failed.append(progress)
    return failed


