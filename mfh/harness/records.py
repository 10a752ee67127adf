"""Result records: one JSON per (configuration signature, seed), written atomically.

Layout: `<results_dir>/runs/<signature>/seed=<s>.json`. The signature is a short hash of the
resolved configuration without the seed and without keys that do not change the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

SCHEMA = 1
# Keys that never change a result: the seed (records are per seed), logging, paths, device,
# whether a checkpoint is saved.
NON_RESULT_KEYS = ("seed", "logger", "results_dir", "data_dir", "download", "device", "hydra",
                   "checkpoint")
PACKAGES = ("torch", "torchvision", "numpy", "hydra-core", "omegaconf", "wandb", "mlxtend",
            "scikit-image")


def signature(config: dict, drop: Iterable[str] = ()) -> str:
    """12-hex-digit hash of `config` minus NON_RESULT_KEYS and the keys in `drop`."""
    kept = {k: v for k, v in config.items() if k not in NON_RESULT_KEYS and k not in set(drop)}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def record_path(results_dir: str | Path, config: dict, seed: int) -> Path:
    """Where the record of `config` at `seed` lives."""
    return Path(results_dir) / "runs" / signature(config) / f"seed={seed}.json"


def write_record(path: Path, record: dict) -> None:
    """Write `record` as JSON atomically: a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_records(results_dir: str | Path) -> Iterator[dict]:
    """Every record under `<results_dir>/runs`, in a stable order."""
    for path in sorted(Path(results_dir).glob("runs/*/seed=*.json")):
        with open(path) as f:
            yield json.load(f)


def provenance() -> dict:
    """Which commit, packages and machine made a record."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                 timeout=10, check=True)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    # Changed tracked files other than results/ (results are what runs write, not code).
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "packages": versions,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
