"""Run a figure experiment (error against compression, expansion) and draw it.

    python scripts/figure.py --experiment experiments/ratio_sweep.yaml [--results-dir results]
                             [--no-run] [--dry-run] [logger=none numerics=portable ...]

Runs every configuration of the experiment file (mfh/report/grid.py) in one `python run.py -m`
with its own results folder <results-dir>/experiments/<name> (so its many configurations per
label stay out of the generic `make tables`; resumable: finished records are skipped;
`--no-run` only draws), then writes
<results-dir>/figures/<name>.png and <results-dir>/tables/<name>.{md,csv} (mean ± SE per
dataset, architecture, model and x). Trailing overrides may only set keys that do not change a
result. Exits 1 if the sweep exited non-zero or no record exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

from mfh.harness.sweep import check_pass_through, run_sweeps  # noqa: E402
from mfh.report.grid import collect, load_grid, summary, sweep_command, to_markdown  # noqa: E402
from mfh.report.plots import plot_grid  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--no-run", action="store_true", help="draw from existing records only")
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir).resolve()
    try:
        check_pass_through(args.overrides)
        exp = load_grid(args.experiment)
        runs = results_dir / "experiments" / exp.name
        command = sweep_command(exp, runs, args.overrides)
    except ValueError as e:
        print(f"figure: {e}", file=sys.stderr)
        return 1
    failed = [] if args.no_run else run_sweeps([command], args.dry_run)
    if args.dry_run:
        return 0
    frame = collect(exp, runs)
    if frame.empty or (frame["status"] != "ok").all():
        print(f"figure: no ok records of {exp.name} under {runs / 'runs'}",
              file=sys.stderr)
        return 1
    stats = summary(frame)
    tables = results_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    (tables / f"{exp.name}.md").write_text(to_markdown(stats, exp.caption))
    stats.to_csv(tables / f"{exp.name}.csv", index=False)
    figure = plot_grid(stats, exp.kind, exp.caption, results_dir / "figures" / f"{exp.name}.png")
    print(to_markdown(stats, exp.caption))
    print(f"wrote {figure}, {tables / exp.name}.md, {tables / exp.name}.csv")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
