"""Run a figure experiment (error against compression, expansion) and draw it.

    python scripts/figure.py --experiment experiments/ratio_sweep.yaml [--results-dir results]
                             [--no-run] [--dry-run] [--out DIR] [--figures DIR]
                             [logger=none numerics=portable ...]

With `recipe:` in the experiment file, first tunes the recipes not yet written
(mfh/harness/grid_recipes.py; trials under <results-dir>/experiments/<name>/tuning). Then runs
every configuration of the experiment file (mfh/report/grid.py) in one `python run.py -m`
with its own results folder <results-dir>/experiments/<name> (so its many configurations per
label stay out of the generic `make tables`; resumable: finished records are skipped;
`--no-run` only draws, tuning and training nothing), then writes
<figures>/<name>.png and <out>/<name>.{md,csv} (default <results-dir>/figures and
<results-dir>/tables; mean ± SE per dataset, architecture, model and x). Trailing overrides may
only set keys that do not change a result. Exits 1 if a study or the sweep failed, or no record
exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

from mfh.harness.grid_recipes import tune_grid  # noqa: E402
from mfh.harness.sweep import check_pass_through, run_sweeps  # noqa: E402
from mfh.report.grid import (  # noqa: E402
    collect,
    load_grid,
    missing_recipes,
    summary,
    sweep_command,
    to_markdown,
)
from mfh.report.plots import plot_grid  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--no-run", action="store_true", help="draw from existing records only")
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    parser.add_argument("--out", help="table folder (default: <results-dir>/tables)")
    parser.add_argument("--figures", help="figure folder (default: <results-dir>/figures)")
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
    failed = []
    if exp.recipe and not args.no_run:
        failed = tune_grid(exp, runs, args.overrides, dry_run=args.dry_run)
        if missing_recipes(exp):
            print("(the sweep follows once these recipes are written)" if args.dry_run else
                  f"figure: recipes not written: {', '.join(missing_recipes(exp))}",
                  file=sys.stdout if args.dry_run else sys.stderr)
            return 0 if args.dry_run else 1
    if not args.no_run:
        failed += run_sweeps([command], args.dry_run)
    if args.dry_run:
        return 0
    frame = collect(exp, runs)
    if frame.empty or (frame["status"] != "ok").all():
        print(f"figure: no ok records of {exp.name} under {runs / 'runs'}",
              file=sys.stderr)
        return 1
    stats = summary(frame)
    tables = Path(args.out) if args.out else results_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    (tables / f"{exp.name}.md").write_text(to_markdown(stats, exp.caption))
    stats.to_csv(tables / f"{exp.name}.csv", index=False)
    figures = Path(args.figures) if args.figures else results_dir / "figures"
    figure = plot_grid(stats, exp.kind, exp.caption, figures / f"{exp.name}.png")
    print(to_markdown(stats, exp.caption))
    print(f"wrote {figure}, {tables / exp.name}.md, {tables / exp.name}.csv")
    for progress in failed:
        print(f"figure: failed: {progress}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
