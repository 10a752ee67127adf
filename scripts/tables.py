"""Render result tables from records: prints Markdown, writes <out>/<name>.md, .csv and .tex.

    python scripts/tables.py [--results-dir results] [--out DIR] [--name table]
                             [--where KEY=VALUE ...] [--per-column KEY ...] [--caption TEXT]
    python scripts/tables.py --layout experiments/table1.yaml [--results-dir results]

Without --layout: one row per label over every record (optionally only those whose config has
KEY=VALUE, dotted keys, e.g. --where epochs=20 --where arch.name=mlp3); --per-column KEY lets
KEY differ between the columns of one label (e.g. `optim`: recipes tuned per dataset). With
--layout: the rows of a layout file, named after it, over the columns whose recipes exist.
Exits 1 with one line on a label collision or without records;
exits 2 naming every unreadable record file, unless --skip-unreadable leaves them out (they are
then listed under the table).

Cells marked † average runs that did not train well (mfh/harness/health.py); `--health` lists
every such run under the results folder (those matching --where), one line each, instead of
a table:

    python scripts/tables.py --health [--results-dir results]     (make health-list)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

import yaml  # noqa: E402

from mfh.harness.health import record_health  # noqa: E402
from mfh.harness.records import iter_records, record_path  # noqa: E402
from mfh.report.tables import (  # noqa: E402
    NoRecords,
    Table,
    generic_table,
    layout_table,
    load_layout,
    ready_columns,
    select,
    to_markdown,
    write_tables,
)


def parse_where(items: list[str]) -> dict[str, object]:
    """{"epochs": 20} from ["epochs=20"]; values are read as YAML scalars."""
    where = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where {item!r}: expected KEY=VALUE")
        where[key] = yaml.safe_load(value)
    return where


def build(args: argparse.Namespace, unreadable: list[Path]) -> tuple[Table, str]:
    """The table the arguments ask for, and its default file name; record files that cannot
    be read are appended to `unreadable` and left out."""
    if args.layout:
        layout, untuned = ready_columns(load_layout(args.layout))
        if untuned:
            print(f"tables: columns without recipes left out: {', '.join(untuned)}")
        return layout_table(layout, args.results_dir, unreadable), layout.name
    records = select(iter_records(args.results_dir, unreadable), parse_where(args.where))
    if not records:
        raise NoRecords(f"no records under {Path(args.results_dir) / 'runs'}"
                        + (" matching --where" if args.where else ""))
    return generic_table(records, args.caption, unreadable, args.per_column), "table"


def list_unhealthy(args: argparse.Namespace, unreadable: list[Path]) -> int:
    """Print every record (matching --where) whose training health is not ok; exit status 0."""
    records = select(iter_records(args.results_dir, unreadable), parse_where(args.where))
    sick = [(r, h) for r in records if (h := record_health(r)) and h["status"] != "ok"]
    for record, health in sick:
        path = record_path(args.results_dir, record["config"], record["seed"])
        print(f"{health['status']:8s} epoch {health['epoch']}  {record['label']} on "
              f"{record['dataset']} seed={record['seed']}  {path}")
    print(f"{len(sick)} of {len(records)} records did not train well "
          "(dead / plateau / diverged, mfh/harness/health.py)")
    return 0


def _unreadable_exit(unreadable: list[Path]) -> int:
    for path in unreadable:
        print(f"tables: unreadable record {path}", file=sys.stderr)
    print("tables: move or delete them, or pass --skip-unreadable", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--out", help="output folder (default: <results-dir>/tables)")
    parser.add_argument("--name", help="file name without suffix (default: table, or the "
                        "layout file's name)")
    parser.add_argument("--layout", help="layout file, e.g. experiments/table1.yaml")
    parser.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="keep records whose config has KEY=VALUE (generic table only)")
    parser.add_argument("--per-column", action="append", default=[], metavar="KEY",
                        help="a config key that may differ between columns (generic table)")
    parser.add_argument("--caption", default="", help="caption (generic table only)")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="leave unreadable records out and list them under the table")
    parser.add_argument("--health", action="store_true",
                        help="list the runs that did not train well instead of a table")
    args = parser.parse_args(argv)
    unreadable: list[Path] = []
    if args.health:
        status = list_unhealthy(args, unreadable)
        return _unreadable_exit(unreadable) if unreadable else status
    try:
        table, name = build(args, unreadable)
    except NoRecords as e:   # no readable record: the unreadable ones are why, if any
        if unreadable:
            return _unreadable_exit(unreadable)
        print(f"tables: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # label collision, bad layout or config
        print(f"tables: {e}", file=sys.stderr)
        return 1
    if unreadable and not args.skip_unreadable:
        return _unreadable_exit(unreadable)
    out = Path(args.out) if args.out else Path(args.results_dir) / "tables"
    paths = write_tables(table, out, args.name or name)
    print(to_markdown(table))
    print("wrote " + ", ".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
