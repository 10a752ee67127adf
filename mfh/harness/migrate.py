"""Move records whose signature changed (a new rule of `effective_config`) to their new folder.

`migrate_signatures(results_dir)` recomputes every record's signature from its stored config;
a record whose folder name differs is rewritten (atomically) under `runs/<new>/`, with its
`signature` field updated, and its checkpoint, if present, moves along. Nothing else in a
record changes. A record whose new place is taken by a different record is left where it is
and reported, never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mfh.harness.records import read_record, write_record
from mfh.harness.signature import signature


@dataclass(frozen=True)
class Move:
    """One record moved (or, `conflict`, not moved because its new place is taken)."""

    old: Path
    new: Path
    conflict: bool = False


def migrate_signatures(results_dir: str | Path, dry_run: bool = False) -> list[Move]:
    """Move every record under `<results_dir>/runs` whose signature changed; return the moves."""
    root = Path(results_dir)
    moves = []
    for path in sorted(root.glob("runs/*/seed=*.json")):
        record = read_record(path)
        old_sig, new_sig = path.parent.name, signature(record["config"])
        if new_sig == old_sig:
            continue
        target = root / "runs" / new_sig / path.name
        if target.exists() and read_record(target) != {**record, "signature": new_sig}:
            moves.append(Move(path, target, conflict=True))
            continue
        moves.append(Move(path, target))
        if dry_run:
            continue
        checkpoint = root / "checkpoints" / old_sig / path.with_suffix(".pt").name
        if checkpoint.exists():
            moved = root / "checkpoints" / new_sig / checkpoint.name
            moved.parent.mkdir(parents=True, exist_ok=True)
            os.replace(checkpoint, moved)
            record["checkpoint"] = {**record["checkpoint"], "path": str(moved)}
        write_record(target, {**record, "signature": new_sig})
        path.unlink()
        for folder in (path.parent, checkpoint.parent):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return moves
