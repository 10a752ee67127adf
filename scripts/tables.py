"""Render result tables from records: prints Markdown, writes <out>/<name>.md, .csv and .tex.

    python scripts/tables.py [--results-dir results] [--out DIR] [--name table]
                             [--where KEY=VALUE ...] [--caption TEXT]
    python scripts/tables.py --layout experiments/table1.yaml [--results-dir results]

Without --layout: one row per label over every record (optionally only those whose config has
KEY=VALUE, dotted keys, e.g. --where epochs=20 --where arch.name=mlp3). With --layout: the rows
of a layout file, named after it. Exits 1 with one line on a label collision or without records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from mfh.harness.records import iter_records
from mfh.report.tables import (
    NoRecords,
    Table,
    generic_table,
    layout_table,
    load_layout,
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


def build(args: argparse.Namespace) -> tuple[Table, str]:
    """The table the arguments ask for, and its default file name."""
    if args.layout:
        layout = load_layout(args.layout)
        return layout_table(layout, args.results_dir), layout.name
    records = select(iter_records(args.results_dir), parse_where(args.where))
    if not records:
        raise NoRecords(f"no records under {Path(args.results_dir) / 'runs'}"
                        + (" matching --where" if args.where else ""))
    return generic_table(records, caption=args.caption), "table"


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
    parser.add_argument("--caption", default="", help="caption (generic table only)")
    args = parser.parse_args(argv)
    try:
        table, name = build(args)
    except (ValueError, NoRecords) as e:  # label collision, bad layout or config, no records
        print(f"tables: {e}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else Path(args.results_dir) / "tables"
    paths = write_tables(table, out, args.name or name)
    print(to_markdown(table))
    print("wrote " + ", ".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
