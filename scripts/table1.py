"""Run the sweeps of a table layout (default: the paper's Table 1), then render the table.

    python scripts/table1.py [--layout experiments/table1.yaml] [--results-dir results]
                             [--out DIR] [--dry-run] [logger=none device=cuda ...]

For each distinct configuration of the layout (rows sharing one are run once) and each dataset,
runs `python run.py -m <common> <row overrides> dataset=<d> seed=<seeds> results_dir=<dir>`
exactly as a user would; run.py skips the runs whose record exists, so re-running resumes.
Trailing overrides are passed to every run and may only set keys that do not change a result
(logger, device, data_dir, download, hydra/...). Then writes <out>/<layout name>.{md,csv,tex}
and the figures <results-dir>/figures/<layout name>.png (mean ± SE per row) and
<layout name>_curves.png (validation error per epoch).
Exits 1 if a sweep exited non-zero (after running the others) or the table cannot be made.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from mfh.harness.records import NON_RESULT_KEYS
from mfh.report.plots import plot_curves, plot_table
from mfh.report.tables import (
    Layout,
    NoRecords,
    distinct_configs,
    layout_entries,
    layout_table,
    load_layout,
    resolve_rows,
    to_markdown,
    write_tables,
)

ROOT = Path(__file__).resolve().parents[1]
# Set by this script itself: the seeds come from the layout, results_dir from --results-dir.
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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default=str(ROOT / "experiments" / "table1.yaml"))
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--out", help="output folder (default: <results-dir>/tables)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir).resolve()  # run.py runs from the repository root
    try:
        check_pass_through(args.overrides)
        layout = load_layout(args.layout)
        commands = sweep_commands(layout, results_dir, args.overrides)
    except ValueError as e:
        print(f"table1: {e}", file=sys.stderr)
        return 1
    failed = []
    for progress, command in commands:
        print(progress, flush=True)
        if args.dry_run:
            print("  python " + " ".join(command[1:]), flush=True)
        elif subprocess.run(command, cwd=ROOT).returncode != 0:
            failed.append(progress)
    if args.dry_run:
        return 0
    try:
        table = layout_table(layout, results_dir)
    except (ValueError, NoRecords) as e:
        print(f"table1: {e}", file=sys.stderr)
        return 1
    paths = write_tables(table, Path(args.out) if args.out else results_dir / "tables",
                         layout.name)
    figures = results_dir / "figures"
    paths.append(plot_table(table, figures / f"{layout.name}.png"))
    entries = layout_entries(layout, resolve_rows(layout), results_dir)
    paths.append(plot_curves([record for _, _, record in entries],
                             figures / f"{layout.name}_curves.png"))
    print(to_markdown(table))
    print("wrote " + ", ".join(map(str, paths)))
    for progress in failed:
        print(f"table1: sweep exited non-zero: {progress}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
