"""Run the training-health grid (experiments/health.yaml) and count its unhealthy runs.

    python scripts/health.py [--experiment experiments/health.yaml] [--results-dir results]
                             [--no-run] [--dry-run] [logger=none numerics=portable ...]

Runs every configuration in one `python run.py -m` with its own results folder
<results-dir>/experiments/<name> (resumable: finished records are skipped; `--no-run` only
counts), then writes <results-dir>/health/<name>.md (dead / plateau / diverged runs per label,
architecture, recipe and init) and <name>.csv (one line per run: health, its epoch, the first
epoch's training loss, test error). Exits 1 if the sweep failed or no record exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

from mfh.harness.sweep import check_pass_through, run_sweeps  # noqa: E402
from mfh.report.health_grid import (  # noqa: E402
    collect,
    counts,
    load_health_grid,
    sweep_command,
    to_markdown,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="experiments/health.yaml")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--no-run", action="store_true", help="count existing records only")
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir).resolve()
    try:
        check_pass_through(args.overrides)
        grid = load_health_grid(args.experiment)
        runs = results_dir / "experiments" / grid.name
        command = sweep_command(grid, runs, args.overrides)
    except ValueError as e:
        print(f"health: {e}", file=sys.stderr)
        return 1
    failed = [] if args.no_run else run_sweeps([command], args.dry_run)
    if args.dry_run:
        return 0
    frame = collect(grid, runs)
    if frame.empty:
        print(f"health: no records of {grid.name} under {runs / 'runs'}", file=sys.stderr)
        return 1
    out = results_dir / "health"
    out.mkdir(parents=True, exist_ok=True)
    text = to_markdown(counts(frame), grid)
    (out / f"{grid.name}.md").write_text(text)
    frame.to_csv(out / f"{grid.name}.csv", index=False)
    print(text)
    print(f"wrote {out / grid.name}.md, {out / grid.name}.csv")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
