"""The sweeps of a table layout: one `run.py -m` per distinct configuration and dataset.

Each sweep runs exactly as a user would type it (`python run.py -m <common> <row overrides>
dataset=<d> seed=<seeds> results_dir=<dir>`); run.py skips the runs whose record exists, so
running a layout again resumes it. Rows that share a configuration are run once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mfh.harness.signature import NON_RESULT_KEYS
from mfh.report.tables import Layout, distinct_configs, resolve_rows

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


def sweep_commands(layout: Layout, results_dir: Path,
                   extra: list[str]) -> list[tuple[str, list[str]]]:
    """(progress line, argv) per distinct configuration and dataset, in layout order."""
    groups = distinct_configs(resolve_rows(layout))
    seeds = ",".join(map(str, layout.seeds))
    commands = []
    for i, group in enumerate(groups, 1):
        first = group[0]
        ids = " ".join(r.row.id for r in group)
        for dataset in layout.datasets:
            argv = [sys.executable, "run.py", "-m", *layout.common, *first.row.overrides,
                    f"dataset={dataset}", f"seed={seeds}", f"results_dir={results_dir}", *extra]
            progress = f"row {i}/{len(groups)}: {first.label} on {dataset} (layout rows {ids})"
            commands.append((progress, argv))
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
