"""The sweep of a table layout: one `run.py -m` over every distinct configuration, dataset
and seed, so a parallel launcher is never idle between rows.

Each distinct configuration of the layout becomes a row config, `<results_dir>/hydra/layouts/
<layout>/row/<k>.yaml` (package _global_: its group overrides as `override /group: option` in
its defaults, its other overrides as values), and the sweep is
`python run.py -m hydra.searchpath=[file://<that folder>] +row=r1,...,rN <common>
dataset=<d1>,... seed=<seeds> results_dir=<dir>`. A row config composes the same configuration
as its overrides (so the same signature); run.py skips the runs whose record exists, so
running a layout again resumes it. A layout with per-column recipes gets one row config per
(configuration, column), and `tune_recipes` runs the tuning studies that write those recipes.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import yaml

from mfh.harness.config import CONF_DIR, compose_config, set_dotted
from mfh.harness.families import family_overrides, is_dk
from mfh.harness.recipes import recipe_path, recipe_values, save_best
from mfh.harness.runner import run
from mfh.harness.signature import NON_RESULT_KEYS
from mfh.harness.tuning import Tuning, trial_config, tune
from mfh.report.tables import (
    Layout,
    distinct_configs,
    layout_families,
    recipe_name,
    resolve_rows,
    row_datasets,
)

ROOT = Path(__file__).resolve().parents[2]
# Set by the sweep itself: the seeds come from the layout, results_dir from the caller.
PASS_THROUGH_KEYS = tuple(k for k in NON_RESULT_KEYS if k not in ("seed", "results_dir"))


def check_pass_through(overrides: list[str]) -> None:
    """Raise ValueError for an override that is not `key=value` on a non-result key."""
    for item in overrides:
        key, sep, _ = item.partition("=")
        top = re.split(r"[./]", key.lstrip("+~"))[0]
        if not sep or top not in PASS_THROUGH_KEYS:
            raise ValueError(f"override {item!r} is not allowed here; only "
                             f"{', '.join(PASS_THROUGH_KEYS)} (they do not change a result)")


def row_config(overrides: tuple[str, ...]) -> dict:
    """A row's Hydra overrides as a `# @package _global_` config: group choices in its
    defaults list (`+group=x`, a group not in the primary defaults, as an added entry before
    the overrides, which Hydra wants last), every other `key=value` as a (nested) value."""
    config: dict = {"defaults": []}
    added = []
    for item in overrides:
        key, _, value = item.partition("=")
        if key.startswith("+") and (CONF_DIR / key[1:]).is_dir():
            added.append({f"/{key[1:]}": value})
            continue
        if (CONF_DIR / key).is_dir():
            config["defaults"].append({f"override /{key}": value})
            continue
        set_dotted(config, key, yaml.safe_load(value))
    config["defaults"][:0] = added
    return config


def row_sweep(folder: Path, rows: list[tuple[str, tuple[str, ...]]], *args: str) -> list[str]:
    """Write one row config per (comment, overrides), `<folder>/<digest>/row/r<k>.yaml`
    (`row_config` under a comment line), and return the argv of one `run.py -m` over all of
    them (`+row=r1,...`, that folder on Hydra's search path), followed by `args`. `<digest>`
    names the rows' contents, so sweeps of other rows (another column of the same layout, run
    at the same time) never read each other's row configs, and the same rows share a folder."""
    texts = [f"# @package _global_\n# {comment}\n"
             + yaml.safe_dump(row_config(overrides), sort_keys=False)
             for comment, overrides in rows]
    folder = folder / hashlib.sha256("\0".join(texts).encode()).hexdigest()[:12]
    (folder / "row").mkdir(parents=True, exist_ok=True)
    for k, text in enumerate(texts, 1):
        path = folder / "row" / f"r{k}.yaml"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return [sys.executable, "run.py", "-m", f"hydra.searchpath=[file://{folder}]",
            "+row=" + ",".join(f"r{k}" for k in range(1, len(rows) + 1)), *args]


def sweep_command(layout: Layout, results_dir: Path, extra: list[str],
                  datasets: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """(progress line, argv) of the one sweep of the layout (of its columns `datasets`, all
    by default); writes its row configs. A layout with recipes gets one row config per
    (configuration, column), since each column has its own recipe; otherwise the columns are
    a `dataset=` axis of the sweep."""
    datasets = datasets or layout.datasets
    unknown = sorted(set(datasets) - set(layout.datasets))
    if unknown:
        raise ValueError(f"layout {layout.name} has no column {', '.join(unknown)}; columns: "
                         f"{', '.join(layout.datasets)}")
    groups = distinct_configs(resolve_rows(replace(layout, datasets=datasets)))
    folder = results_dir / "hydra" / "layouts" / layout.name
    if layout.recipe or any(r.datasets for r in layout.rows):
        configs = [(g, g[0].overrides[d]) for g in groups for d in datasets
                   if d in g[0].overrides]
        axis = []
        columns = len(configs)
    else:
        configs = [(g, g[0].row.overrides) for g in groups]
        axis = [f"dataset={','.join(datasets)}"]
        columns = len(groups) * len(datasets)
    argv = row_sweep(folder, [(" ".join(r.row.id for r in group), overrides)
                              for group, overrides in configs],
                     *layout.common, *axis, f"seed={','.join(map(str, layout.seeds))}",
                     f"results_dir={results_dir}", *extra)
    jobs = columns * len(layout.seeds)
    shape = f"{len(groups)} configurations x {len(datasets)} datasets" \
        if columns == len(groups) * len(datasets) else \
        f"{columns} (configuration, dataset) pairs of {len(groups)} configurations on " \
        f"{len(datasets)} datasets"
    return f"{layout.name}: {shape} x {len(layout.seeds)} seeds = {jobs} jobs", argv


def sweep_commands(layout: Layout, results_dir: Path, extra: list[str],
                   datasets: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """The layout's sweep at its seeds, then one sweep per set of rows with seeds of their
    own (`seeds:` in a row) over those of their seeds the first one does not run."""
    datasets = datasets or layout.datasets
    commands = [sweep_command(layout, results_dir, extra, datasets)]
    groups: dict[tuple[int, ...], list] = {}
    for row in layout.rows:
        more = tuple(s for s in row.seeds if s not in layout.seeds)
        if more and any(d in datasets for d in row_datasets(layout, row)):
            groups.setdefault(more, []).append(row)
    for seeds, rows in groups.items():
        part = replace(layout, rows=tuple(rows), seeds=seeds)
        columns = tuple(d for d in datasets if any(d in row_datasets(part, r) for r in rows))
        commands.append(sweep_command(part, results_dir, extra, columns))
    return commands


def run_sweeps(commands: list[tuple[str, list[str]]], dry_run: bool = False) -> list[str]:
    """Run (or, `dry_run`, print) each sweep from the repository root, in order; return the
    progress lines of the sweeps that exited non-zero (the others still run)."""
    failed = []
    for progress, command in commands:
        print(progress, flush=True)
        if dry_run:
            print("  python " + " ".join(command[1:]), flush=True)
        elif subprocess.run(command, cwd=ROOT).returncode != 0:
            failed.append(progress)
    return failed


def tune_recipes(layout: Layout, results_dir: Path, extra: list[str],
                 datasets: tuple[str, ...], families: tuple[str, ...] = (),
                 only_missing: bool = False, dry_run: bool = False) -> list[str]:
    """Tune the recipe of every (column in `datasets`, family; default: the layout's
    families) and write it (`only_missing`: those without a recipe file); return the studies
    that found no complete trial. Trials resume like any run (mfh.harness.tuning).

    A dark-knowledge family (`<model>_dk`) is tuned after the column's dense recipe: its
    students' teacher is the dense run at that recipe (`distill.teacher_optim`, kept in the
    student's recipe), trained with its checkpoint on each tuning seed in the DK studies' own
    folder, `<results_dir>/tuning_dk`."""
    failed = []
    for dataset in datasets:
        for family in families or layout_families(layout, dataset):
            name = recipe_name(layout, dataset, family)
            if only_missing and recipe_path(name).exists():
                continue
            t = layout.tuning
            progress = (f"tuning model={family} on {dataset}: {t.n_trials} trials x seeds "
                        f"{', '.join(map(str, t.seeds))}")
            print(progress, flush=True)
            if dry_run:
                continue
            fixed, more, folder = {}, [], "tuning"
            if is_dk(family):
                teacher = recipe_name(layout, dataset, "dense")
                if not recipe_path(teacher).exists():
                    failed.append(f"{progress} (its teacher's recipe {teacher} comes first: "
                                  "a dense row on the column)")
                    continue
                optim = {k.removeprefix("optim."): v for k, v in recipe_values(teacher).items()
                         if k.startswith("optim.")}
                fixed = {"distill.teacher_optim": optim}
                more = ["distill.teacher_optim={"
                        + ",".join(f"{k}:{v!r}" for k, v in optim.items()) + "}"]
                folder = "tuning_dk"
                train_teachers(teacher, dataset, layout.common, t, results_dir / folder, extra)
            trials = tune(family, dataset, layout.common, t, results_dir,
                          (*extra, *more), folder=folder)
            if save_best(name, family, dataset, trials, t, layout.common, fixed=fixed) is None:
                failed.append(progress)
    return failed


def train_teachers(recipe: str, dataset: str, common: tuple[str, ...], tuning: Tuning,
                   results_dir: Path, extra: list[str]) -> None:
    """Train (with its checkpoint; skipped where its record exists) the dense run at `recipe`
    on every tuning seed in `results_dir`, where a dark-knowledge study's students find it."""
    base = compose_config([*family_overrides("dense"), *common, f"dataset={dataset}",
                           f"results_dir={results_dir}", *extra, "checkpoint=true"])
    for seed in tuning.seeds:
        run(trial_config(base, recipe_values(recipe), seed), f"teacher ({recipe})")
