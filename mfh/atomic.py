"""Atomic file writes: the one helper behind records, checkpoints, training states and caches.

`write_atomic(path, write)` calls `write(f)` on a binary file with a unique temporary name in
the target folder (so concurrent writers of one path never share a temporary file), flushes it
to disk, then renames it over `path`. A reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` atomically with `write(f)`; the temporary file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
