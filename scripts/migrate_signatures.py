"""Move records whose signature changed to their new folder (mfh.harness.migrate).

    python scripts/migrate_signatures.py [--results-dir results] [--dry-run]

Prints one line per moved record; exits 1 if a record's new place holds a different record.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh.harness.migrate import migrate_signatures  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    args = parser.parse_args(argv)
    moves = migrate_signatures(args.results_dir, args.dry_run)
    for move in moves:
        verb = "CONFLICT, left" if move.conflict else ("would move" if args.dry_run else "moved")
        print(f"{verb} {move.old} -> {move.new}")
    print(f"{sum(not m.conflict for m in moves)} record(s) to new signatures")
    return 1 if any(m.conflict for m in moves) else 0


if __name__ == "__main__":
    sys.exit(main())
