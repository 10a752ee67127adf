"""Tune the recipes of a table layout on validation error and write them to conf/recipe/.

    python scripts/tune.py [--layout experiments/table1.yaml] --dataset D [--dataset D2 ...]
                           [--family mfh ...] [--results-dir results] [--dry-run]
                           [numerics=portable logger=none ...]

Per (dataset, model family of the layout's rows; `--family` to pick), runs the seeded Optuna
study of mfh/harness/tuning.py at the layout's budget (`common`) and its `tuning:` settings
(trials, tuning seeds, pruner), over the family's search space in experiments/tuning.yaml, with
every trial seed a record under <results-dir>/tuning (resumable: a finished record is read,
not rerun), then writes conf/recipe/<dataset>_<family>.yaml from the trial of lowest mean
validation error (mfh/harness/recipes.py). Trailing overrides may only set keys that do not
change a result. Exits 1 if a study found no complete trial.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

from mfh.harness.sweep import ROOT, check_pass_through, tune_recipes  # noqa: E402
from mfh.report.tables import load_layout  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default=str(ROOT / "experiments" / "table1.yaml"))
    parser.add_argument("--dataset", action="append", required=True,
                        help="a column of the layout (repeat for several)")
    parser.add_argument("--family", action="append", default=[],
                        help="a model family (dense, hashednets, mfh); default: the layout's")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    try:
        check_pass_through(args.overrides)
        layout = load_layout(args.layout)
        unknown = sorted(set(args.dataset) - set(layout.datasets))
        if unknown:
            raise ValueError(f"layout {layout.name} has no column {', '.join(unknown)}")
        if not layout.recipe:
            raise ValueError(f"layout {layout.name} uses no recipes (no `recipe:` key)")
    except ValueError as e:
        print(f"tune: {e}", file=sys.stderr)
        return 1
    print(f"tune: {numerics.active()} numerics (the trials run in this process)", flush=True)
    failed = tune_recipes(layout, Path(args.results_dir).resolve(), args.overrides,
                          tuple(args.dataset), tuple(args.family), dry_run=args.dry_run)
    for progress in failed:
        print(f"tune: no complete trial: {progress}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
