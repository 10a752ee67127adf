"""Result records: one JSON per (configuration signature, seed), written atomically.

Layout: `<results_dir>/runs/<signature>/seed=<s>.json`. The signature (`mfh.harness.signature`)
is a short hash of the configuration without the seed and the keys that cannot change a result.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from mfh.atomic import write_atomic
from mfh.harness.signature import NON_RESULT_KEYS, signature

SCHEMA = 1
PACKAGES = ("torch", "torchvision", "numpy", "hydra-core", "omegaconf", "wandb", "mlxtend",
            "scikit-image", "scipy", "pandas", "PyYAML", "filelock", "hydra-joblib-launcher",
            "hydra-submitit-launcher", "submitit", "optuna")
__all__ = ["NON_RESULT_KEYS", "SCHEMA", "CorruptRecord", "iter_records", "provenance",
           "read_record", "record_path", "records_at", "set_aside", "signature",
           "write_record"]


class CorruptRecord(ValueError):
    """A record file that is not a JSON object (truncated by a crash, a full disk, an edit)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: unreadable record ({reason})")
        self.path = path


def record_path(results_dir: str | Path, config: dict, seed: int) -> Path:
    """Where the record of `config` at `seed` lives."""
    return Path(results_dir) / "runs" / signature(config) / f"seed={seed}.json"


def write_record(path: Path, record: dict) -> None:
    """Write `record` as JSON atomically (`mfh.atomic.write_atomic`)."""
    text = json.dumps(record, indent=1, sort_keys=True)
    write_atomic(path, lambda f: f.write(text.encode()))


def read_record(path: Path) -> dict:
    """The record at `path`; CorruptRecord if it is not a JSON object."""
    try:
        record = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptRecord(Path(path), str(err)) from None
    if not isinstance(record, dict) or "status" not in record:
        raise CorruptRecord(Path(path), "not a record object")
    return record


def set_aside(path: Path) -> Path:
    """Rename an unreadable record to `<name>.corrupt` (kept for inspection); the new path."""
    target = path.with_name(path.name + ".corrupt")
    os.replace(path, target)
    return target


def iter_records(results_dir: str | Path, unreadable: list[Path] | None = None
                 ) -> Iterator[dict]:
    """Every record under `<results_dir>/runs`, in a stable order.

    An unreadable record raises CorruptRecord, or, when a list `unreadable` is given, is
    appended to it and left out.
    """
    for path in sorted(Path(results_dir).glob("runs/*/seed=*.json")):
        yield from _readable(path, unreadable)


def records_at(results_dir: str | Path, config: dict, seeds: Iterable[int],
               unreadable: list[Path] | None = None) -> Iterator[dict]:
    """The records of `config` at each of `seeds` that exist under `<results_dir>/runs`, in
    seed order; unreadable ones as in `iter_records`."""
    for seed in seeds:
        path = record_path(results_dir, config, seed)
        if path.exists():
            yield from _readable(path, unreadable)


def _readable(path: Path, unreadable: list[Path] | None) -> Iterator[dict]:
    """The record at `path` (one item), or none when it is unreadable and `unreadable` (a
    list) takes its path; CorruptRecord otherwise."""
    try:
        yield read_record(path)
    except CorruptRecord:
        if unreadable is None:
            raise
        unreadable.append(path)


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
        **machine(),
    }


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), e.g. "AMD EPYC 7B13"; the platform's otherwise."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What makes float results depend on the machine: the CPU model, the SIMD level ATen
    dispatches to, the BLAS, torch's thread count, the numerics mode and the kernels' flags."""
    import torch

    from mfh import numerics
    from mfh.method import kernels

    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for line in config.splitlines()
                 for part in line.replace(",", " ").split() if part.startswith("BLAS_INFO=")),
                None)
    mkl = next((line.strip(" -") for line in config.splitlines() if "Math Kernel Library" in line),
               None)
    return {"cpu_model": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "blas": blas, "mkl": mkl, "threads": torch.get_num_threads(),
            "numerics": numerics.active(), "kernel_backend": kernels.backend(),
            "kernel_flags": " ".join(kernels.flags()),
            "pinned_env": {k: os.environ.get(k) for k in numerics.PORTABLE_ENV}}
