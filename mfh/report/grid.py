"""Figure experiments: test error against one varied quantity, per (dataset, architecture).

An experiment file (`experiments/ratio_sweep.yaml`, `experiments/expansion.yaml`) names the
seeds, datasets, architectures, the models (label -> overrides), a `reference` model drawn as
a horizontal line, and the x values of one `kind`:
- `ratio`: x is the compression ratio; each model runs at `compression=x`; the reference
  (dense) is trained once per (dataset, architecture, seed), not once per ratio;
- `expansion`: the stored parameters are fixed at those of the architecture with
  `base_hidden` units per hidden layer; x is the expansion factor, the virtual hidden width
  is x * base_hidden and the compression is stored / virtual at that width; the reference is
  the `base_hidden`-unit dense net itself.

Every (model, architecture, x) is one configuration (a `Point`); `sweep_command` runs them all
in one `run.py -m` over row configs (as the table layouts do), datasets and seeds, resumable.
`collect` gathers the records into a DataFrame (dataset, arch, model, x, seed, test_error).

Tuned recipes (optional keys `recipe`, `tuning`, `tune_at`): each (dataset, architecture,
model) runs with its own recipe, `+recipe=<recipe>_at<x>` (`recipe` a template of
{dataset}, {arch}, {model}), tuned at the x that `tune_at` maps it to (`{x tuned: [x using its
recipe], ...}`; the reference has one recipe, without `_at`). mfh.harness.grid_recipes tunes
them: the first x of `tune_at` from scratch, every later one starting from that recipe (its
trial 1), so a retuned recipe is the better of the two on validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from mfh.harness.config import compose_config, model_specs, to_dict
from mfh.harness.health import health_status
from mfh.harness.models import layer_specs
from mfh.harness.recipes import recipe_path
from mfh.harness.records import records_at
from mfh.harness.sweep import row_sweep
from mfh.harness.tuning import Tuning
from mfh.report.tables import LayoutError

KINDS = ("ratio", "expansion")
REQUIRED = ("kind", "caption", "seeds", "datasets", "archs", "x", "models", "reference",
            "common")
IMAGE = ((1, 28, 28), 10)   # the input shape and classes the accounting assumes (28 x 28 sets)


@dataclass(frozen=True)
class GridExperiment:
    """An experiment file: see the module docstring."""

    name: str
    kind: str
    caption: str
    seeds: tuple[int, ...]
    datasets: tuple[str, ...]
    archs: tuple[str, ...]
    x: tuple[float, ...]
    models: dict[str, tuple[str, ...]]
    reference: tuple[str, ...]
    common: tuple[str, ...]
    base_hidden: int = 50
    reference_label: str = "dense"
    recipe: str | None = None
    tuning: Tuning | None = None
    tune_at: dict[float, tuple[float, ...]] | None = None


@dataclass(frozen=True)
class Point:
    """One configuration of the grid: a model (or the reference: x None) on one architecture
    at one x, as the overrides that compose it (on top of `common`, before the dataset)."""

    model: str
    arch: str
    x: float | None
    overrides: tuple[str, ...]


def read_experiment(path: Path, required: tuple[str, ...]) -> dict:
    """An experiment file's mapping; LayoutError names the `required` keys it lacks."""
    data = yaml.safe_load(path.read_text())
    missing = [k for k in required if not isinstance(data, dict) or k not in data]
    if missing:
        raise LayoutError(f"{path}: missing keys {', '.join(missing)}")
    return data


def load_grid(path: str | Path) -> GridExperiment:
    """Read an experiment file; LayoutError names what is missing or wrong."""
    path = Path(path)
    data = read_experiment(path, REQUIRED)
    if data["kind"] not in KINDS:
        raise LayoutError(f"{path}: kind {data['kind']!r} is not one of {', '.join(KINDS)}")
    xs = tuple(float(x) for x in data["x"])
    tune_at = None
    if "recipe" in data:
        missing = [k for k in ("tuning", "tune_at") if k not in data]
        if missing:
            raise LayoutError(f"{path}: `recipe` needs {' and '.join(missing)}")
        tune_at = {float(k): tuple(float(x) for x in v) for k, v in data["tune_at"].items()}
        used = [x for group in tune_at.values() for x in group]
        if sorted(used) != sorted(xs) or any(k not in g for k, g in tune_at.items()):
            raise LayoutError(f"{path}: tune_at must give each x of {list(xs)} to exactly one "
                              "tuned x, and each tuned x to itself")
    return GridExperiment(
        path.stem, data["kind"], str(data["caption"]).strip(),
        tuple(int(s) for s in data["seeds"]), tuple(data["datasets"]), tuple(data["archs"]),
        xs, {str(k): tuple(v) for k, v in data["models"].items()}, tuple(data["reference"]),
        tuple(data["common"]), int(data.get("base_hidden", 50)),
        str(data.get("reference_label", "dense")), data.get("recipe"),
        Tuning.from_layout(data["tuning"]) if "tuning" in data else None, tune_at)


def slug(text: str) -> str:
    """`text` as a file-name part: runs of other characters than letters, digits and - as _."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", text).strip("_")


def x_tag(x: float) -> str:
    """x as a file-name part: 0.125 -> 0p125, 32.0 -> 32."""
    return f"{x:g}".replace(".", "p")


def tuned_x(exp: GridExperiment, x: float) -> float:
    """The x whose tuned recipe a point at `x` uses."""
    return next(key for key, group in exp.tune_at.items() if x in group)


def recipe_of(exp: GridExperiment, point: Point, dataset: str,
              at: float | None = None) -> str | None:
    """The recipe a point runs with on `dataset` (None without `recipe`); `at`: the one tuned
    at that x instead of the point's own."""
    if not exp.recipe:
        return None
    name = exp.recipe.format(dataset=dataset, arch=point.arch, model=slug(point.model))
    if point.x is None:
        return name
    return f"{name}_at{x_tag(tuned_x(exp, point.x) if at is None else at)}"


def run_overrides(exp: GridExperiment, point: Point, dataset: str) -> tuple[str, ...]:
    """A point's overrides on `dataset` (after `common`), with its recipe if it has one."""
    recipe = recipe_of(exp, point, dataset)
    return (*point.overrides, f"dataset={dataset}", *([f"+recipe={recipe}"] if recipe else []))


def missing_recipes(exp: GridExperiment) -> list[str]:
    """The recipes the grid's points need that are not written yet."""
    names = dict.fromkeys(recipe_of(exp, p, d) for d in exp.datasets for p in points(exp))
    return [n for n in names if n and not recipe_path(n).exists()]


def _arch(name: str) -> dict:
    return to_dict(compose_config([f"arch={name}"]))["arch"]


def stored_at_base(exp: GridExperiment, arch: str) -> tuple[list[int], int]:
    """(hidden widths, dense parameter count) of `arch` with `base_hidden` units per layer."""
    hidden = [exp.base_hidden] * len(_arch(arch)["hidden"])
    spec, _ = model_specs(compose_config([f"arch={arch}", f"arch.hidden={hidden}"]))
    return hidden, sum(s.virtual for s in layer_specs(spec, *IMAGE))


def points(exp: GridExperiment) -> list[Point]:
    """Every configuration of the grid, the reference first per architecture."""
    out = []
    for arch in exp.archs:
        if exp.kind == "ratio":
            out.append(Point(exp.reference_label, arch, None, (*exp.reference, f"arch={arch}")))
            out += [Point(m, arch, x, (*o, f"arch={arch}", f"compression={x!r}"))
                    for m, o in exp.models.items() for x in exp.x]
            continue
        hidden, stored = stored_at_base(exp, arch)
        out.append(Point(exp.reference_label, arch, None,
                         (*exp.reference, f"arch={arch}", f"arch.hidden={hidden}")))
        for x in exp.x:
            wide = [round(h * x) for h in hidden]
            spec, _ = model_specs(compose_config([f"arch={arch}", f"arch.hidden={wide}"]))
            virtual = sum(s.virtual for s in layer_specs(spec, *IMAGE))
            out += [Point(m, arch, x, (*o, f"arch={arch}", f"arch.hidden={wide}",
                                       f"compression={stored / virtual!r}"))
                    for m, o in exp.models.items()]
    return out


def sweep_command(exp: GridExperiment, results_dir: Path,
                  extra: list[str]) -> tuple[str, list[str]]:
    """(progress line, argv) of the one sweep of the grid; writes its row configs."""
    grid = points(exp)
    if exp.recipe:   # a recipe per dataset: one row config per (point, dataset)
        rows = [(f"{p.model} {p.arch} x={p.x} {d}", run_overrides(exp, p, d))
                for p in grid for d in exp.datasets]
        axis = []
    else:
        rows = [(f"{p.model} {p.arch} x={p.x}", p.overrides) for p in grid]
        axis = [f"dataset={','.join(exp.datasets)}"]
    argv = row_sweep(results_dir / "hydra" / "grids" / exp.name, rows, *exp.common, *axis,
                     f"seed={','.join(map(str, exp.seeds))}", f"results_dir={results_dir}",
                     *extra)
    jobs = len(grid) * len(exp.datasets) * len(exp.seeds)
    return (f"{exp.name}: {len(grid)} configurations x {len(exp.datasets)} datasets x "
            f"{len(exp.seeds)} seeds = {jobs} jobs"), argv


COLUMNS = ["dataset", "arch", "model", "x", "seed", "status", "test_error", "ratio", "stored",
           "health"]


def collect(exp: GridExperiment, results_dir: str | Path,
            unreadable: list[Path] | None = None) -> pd.DataFrame:
    """One row per record of the grid found under `results_dir` (COLUMNS; test error in %,
    the realised ratio and stored parameters from the record, its training health,
    `mfh.harness.health`); a point whose recipe is not written yet has none. Unreadable
    records raise CorruptRecord, or are appended to `unreadable` when given."""
    rows = []
    for point in points(exp):
        for dataset in exp.datasets:
            recipe = recipe_of(exp, point, dataset)
            if recipe and not recipe_path(recipe).exists():
                continue
            config = to_dict(compose_config([*exp.common, *run_overrides(exp, point, dataset)]))
            for record in records_at(results_dir, config, exp.seeds, unreadable):
                ok = record["status"] == "ok"
                rows.append((dataset, point.arch, point.model, point.x, record["seed"],
                             record["status"],
                             record["metrics"]["test_error"] if ok else float("nan"),
                             record["compression"]["ratio"],
                             record["compression"]["stored_params"],
                             health_status(record)))
    return pd.DataFrame(rows, columns=COLUMNS)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, SE (ddof 1; NaN for one seed), n and `unhealthy` (how many of them did not train
    well: dead, plateau or diverged) of the ok records per (dataset, arch, model, x), the
    reference rows with x empty."""
    ok = frame[frame["status"] == "ok"].assign(sick=lambda f: f["health"] != "ok")
    keys = ["dataset", "arch", "model", "x"]
    grouped = ok.groupby(keys, dropna=False, sort=False)
    stats = grouped["test_error"].agg(mean="mean", se="sem", n="count")
    return stats.assign(unhealthy=grouped["sick"].sum().astype(int)).reset_index()


def to_markdown(stats: pd.DataFrame, caption: str) -> str:
    """The summary as a Markdown table: one row per (dataset, arch, model), one column per x
    and one for the reference (x empty); "†k" after a cell: k of its runs did not train well."""
    xs = sorted({x for x in stats["x"] if pd.notna(x)}, reverse=True)
    lines = [caption, "", "| dataset | arch | model | " + " | ".join(f"{x:g}" for x in xs)
             + " | reference |", "|---|---|---|" + "---:|" * (len(xs) + 1)]
    for (dataset, arch, model), group in stats.groupby(["dataset", "arch", "model"],
                                                       sort=False):
        cells = {x: row for x, row in zip(group["x"], group.itertuples(), strict=True)}

        def cell(row) -> str:
            se = "" if pd.isna(row.se) else f" ± {row.se:.2f}"
            sick = f"†{row.unhealthy}" if getattr(row, "unhealthy", 0) else ""
            return f"{row.mean:.2f}{se} ({row.n}){sick}"

        if group["x"].isna().all():
            values = ["–"] * len(xs) + [cell(next(group.itertuples()))]
        else:
            values = [cell(cells[x]) if x in cells else "–" for x in xs] + [""]
        lines.append(f"| {dataset} | {arch} | {model} | " + " | ".join(values) + " |")
    if "unhealthy" in stats and stats["unhealthy"].sum():
        lines += ["", f"†k: k of the cell's runs did not train well ({stats['unhealthy'].sum()} "
                  "runs in all: never left chance loss, sat at it first, or diverged; "
                  "mfh/harness/health.py); `python scripts/tables.py --health --results-dir <the "
                  "experiment's folder>` names them."]
    return "\n".join(lines) + "\n"
