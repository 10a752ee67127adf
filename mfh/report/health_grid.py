"""The training-health grid (`experiments/health.yaml`, `make health`): dead starts, plateaus
and divergences per (label, architecture, recipe), with g's init before and after issue 25.

Every (row, recipe, init) is one configuration; HashedNets rows take no init (no g), so one
set of records serves both columns. `sweep_command` runs them all in one `run.py -m` (one row
config each, as the table layouts do; resumable); `collect` reads each record's health
(`mfh.harness.health`) into a DataFrame and `counts` tallies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mfh.harness.config import compose_config, to_dict
from mfh.harness.health import HEALTH, record_health
from mfh.harness.records import records_at
from mfh.harness.sweep import row_sweep
from mfh.report.grid import read_experiment

REQUIRED = ("caption", "dataset", "seeds", "common", "recipes", "inits", "rows")


@dataclass(frozen=True)
class HealthRow:
    """One row of the grid: a label on an architecture, as Hydra overrides."""

    label: str
    arch: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class HealthGrid:
    """An experiment file: see experiments/health.yaml."""

    name: str
    caption: str
    dataset: str
    seeds: tuple[int, ...]
    common: tuple[str, ...]
    recipes: dict[str, tuple[str, ...]]
    inits: dict[str, tuple[str, ...]]
    rows: tuple[HealthRow, ...]


@dataclass(frozen=True)
class Point:
    """One (row, recipe, init) of the grid and the overrides that compose it."""

    row: HealthRow
    recipe: str
    init: str
    overrides: tuple[str, ...]


def load_health_grid(path: str | Path) -> HealthGrid:
    """Read a health experiment file; LayoutError names what is missing."""
    path = Path(path)
    data = read_experiment(path, REQUIRED)
    return HealthGrid(
        path.stem, " ".join(str(data["caption"]).split()), str(data["dataset"]),
        tuple(int(s) for s in data["seeds"]), tuple(data["common"]),
        {str(k): tuple(v) for k, v in data["recipes"].items()},
        {str(k): tuple(v) for k, v in data["inits"].items()},
        tuple(HealthRow(r["label"], r["arch"], tuple(r["overrides"])) for r in data["rows"]))


def _has_g_init(row: HealthRow) -> bool:
    return "model=mfh" in row.overrides


def points(grid: HealthGrid) -> list[Point]:
    """Every (row, recipe, init) of the grid, rows first, then recipes, then inits."""
    return [Point(row, recipe, init, (*row.overrides, f"arch={row.arch}", *recipe_overrides,
                                      *(init_overrides if _has_g_init(row) else ())))
            for row in grid.rows for recipe, recipe_overrides in grid.recipes.items()
            for init, init_overrides in grid.inits.items()]


def sweep_command(grid: HealthGrid, results_dir: Path,
                  extra: list[str]) -> tuple[str, list[str]]:
    """(progress line, argv) of the one sweep over the grid's distinct configurations."""
    distinct = list(dict.fromkeys(p.overrides for p in points(grid)))
    argv = row_sweep(results_dir / "hydra" / "grids" / grid.name,
                     [(" ".join(o), o) for o in distinct], *grid.common,
                     f"dataset={grid.dataset}", f"seed={','.join(map(str, grid.seeds))}",
                     f"results_dir={results_dir}", *extra)
    jobs = len(distinct) * len(grid.seeds)
    return f"{grid.name}: {len(distinct)} configurations x {len(grid.seeds)} seeds = {jobs} " \
           "jobs", argv


COLUMNS = ["label", "arch", "recipe", "init", "seed", "status", "health", "health_epoch",
           "first_loss", "test_error"]


def collect(grid: HealthGrid, results_dir: str | Path) -> pd.DataFrame:
    """One row per (point, record found): COLUMNS (status ok | failed; health from
    `record_health`; the first epoch's training loss; test error in %)."""
    rows = []
    for point in points(grid):
        config = to_dict(compose_config([*grid.common, *point.overrides,
                                         f"dataset={grid.dataset}"]))
        for record in records_at(results_dir, config, grid.seeds):
            health = record_health(record) or {"status": "diverged", "epoch": None}
            metrics = record.get("metrics") or {}
            losses = (metrics.get("curves") or {}).get("train_loss") or [float("nan")]
            rows.append((point.row.label, point.row.arch, point.recipe, point.init,
                         record["seed"], record["status"], health["status"], health["epoch"],
                         losses[0], metrics.get("test_error", float("nan"))))
    return pd.DataFrame(rows, columns=COLUMNS)


def counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs per health status (HEALTH) and n, per (label, arch, recipe, init)."""
    keys = ["label", "arch", "recipe", "init"]
    table = frame.groupby(keys, sort=False)["health"].value_counts().unstack(fill_value=0)
    table = table.reindex(columns=list(HEALTH), fill_value=0)
    table["n"] = table[list(HEALTH)].sum(axis=1)
    return table.reset_index()


def to_markdown(table: pd.DataFrame, grid: HealthGrid) -> str:
    """One line per (label, arch, recipe): "dead / plateau / diverged of n" per init."""
    lines = [grid.caption, "", "| label | arch | recipe | "
             + " | ".join(f"{init}: dead / plateau / diverged (n)" for init in grid.inits)
             + " |", "|---|---|---|" + "---:|" * len(grid.inits)]
    for (label, arch, recipe), group in table.groupby(["label", "arch", "recipe"], sort=False):
        by_init = {row.init: row for row in group.itertuples()}
        cells = [f"{r.dead} / {r.plateau} / {r.diverged} ({r.n})" if (r := by_init.get(i))
                 is not None else "–" for i in grid.inits]
        lines.append(f"| {label} | {arch} | {recipe} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
