"""Run the sweep of a table layout (default: the paper's Table 1), then render the table.

    python scripts/table1.py [--layout experiments/table1.yaml] [--results-dir results]
                             [--dataset D ...] [--out DIR] [--figures DIR] [--dry-run]
                             [logger=none ...]

For a layout with per-column recipes, first tunes the recipes not yet written (scripts/tune.py,
trials under <results-dir>/tuning). Then runs one `python run.py -m` over every distinct
configuration of the layout (rows sharing one are run once), dataset (`--dataset`: only these
columns) and seed (mfh.harness.sweep), so any launcher sees the whole grid;
run.py skips the runs whose record exists, so re-running resumes. The table shows the columns
whose recipes exist.
Trailing overrides are passed to every run and may only set keys that do not change a result
(logger, device, data_dir, download, hydra/...). Then writes <out>/<layout name>.{md,csv,tex}
and the figures <layout name>.png (mean ± SE per row) and <layout name>_curves.png (validation
error per epoch) in `--figures` (default <results-dir>/figures).
Exits 1 if the sweep exited non-zero or the table cannot be made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402
from mfh.harness.families import is_dk  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

from mfh.harness.sweep import (  # noqa: E402
    ROOT,
    check_pass_through,
    run_sweeps,
    sweep_commands,
    tune_recipes,
)
from mfh.report import decide  # noqa: E402
from mfh.report.claims import errors_by_seed, evaluate, unknown_labels, write_claims  # noqa: E402
from mfh.report.plots import plot_curves, plot_table  # noqa: E402
from mfh.report.tables import (  # noqa: E402
    NoRecords,
    layout_entries,
    layout_families,
    layout_table,
    load_layout,
    missing_recipes,
    ready_columns,
    resolve_rows,
    to_markdown,
    write_tables,
)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default=str(ROOT / "experiments" / "table1.yaml"))
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--dataset", action="append", default=[],
                        help="run only this column (repeat for several; default: all)")
    parser.add_argument("--out", help="output folder (default: <results-dir>/tables)")
    parser.add_argument("--figures", help="figure folder (default: <results-dir>/figures)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir).resolve()  # run.py runs from the repository root
    try:
        check_pass_through(args.overrides)
        layout = load_layout(args.layout)
        if "checkpoint=false" in [o.lower() for o in args.overrides] and \
                any(is_dk(f) for f in layout_families(layout)):
            raise ValueError("checkpoint=false: the +DK rows read their dense teacher's "
                             "checkpoint (the dense row's)")
        datasets = tuple(args.dataset) or layout.datasets
        failed = tune_recipes(layout, results_dir, args.overrides, datasets,
                              only_missing=True, dry_run=args.dry_run)
        if args.dry_run and any(m.dataset in datasets for m in missing_recipes(layout)):
            print("(the table's sweep follows once these recipes are written)")
            return 0
        commands = sweep_commands(layout, results_dir, args.overrides, datasets)
    except ValueError as e:
        print(f"table1: {e}", file=sys.stderr)
        return 1
    failed += run_sweeps(commands, args.dry_run)
    if args.dry_run:
        return 0
    layout, untuned = ready_columns(layout)
    if untuned:
        print(f"table1: columns without recipes left out: {', '.join(untuned)}")
    try:
        table = layout_table(layout, results_dir)
    except (ValueError, NoRecords) as e:
        print(f"table1: {e}", file=sys.stderr)
        return 1
    paths = write_tables(table, Path(args.out) if args.out else results_dir / "tables",
                         layout.name)
    figures = Path(args.figures) if args.figures else results_dir / "figures"
    paths.append(plot_table(table, figures / f"{layout.name}.png"))
    resolved = resolve_rows(layout)
    entries = layout_entries(layout, resolved, results_dir)
    paths.append(plot_curves([record for _, _, record in entries],
                             figures / f"{layout.name}_curves.png"))
    if layout.claims:
        unknown = unknown_labels(layout.claims, {r.label for r in resolved})
        if unknown:
            print(f"table1: claims name labels the layout has no row for: {unknown}",
                  file=sys.stderr)
            return 1
        out = Path(args.out) if args.out else results_dir / "tables"
        errors = errors_by_seed(entries)
        if layout.claims[0].decided:
            found = decide.effects(layout.claims, layout.datasets, errors, layout.margin)
            paths += decide.write_decided(found, decide.verdicts(layout.claims, found),
                                          layout.margin, out, layout.name, table.caption)
        else:
            rows = evaluate(layout.claims, layout.datasets, errors)
            paths += write_claims(rows, out, layout.name, budget=table.caption)
    print(to_markdown(table))
    print("wrote " + ", ".join(map(str, paths)))
    for progress in failed:
        print(f"table1: sweep exited non-zero: {progress}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
