"""Rerun committed records from their own configuration and seed, and say how they compare.

`rerun(record, results_dir)` trains the record's configuration again into `results_dir` (in
this process, which must run in the record's numerics mode) and returns the new record.
`compare(old, new)` is one of:
- `bit-identical`: the same metrics and curves, every digit (metrics the record predates are
  not compared);
- `rounding`: every error rate the same and the training loss within `ROUNDING` (relative);
- `different`, with the first epoch where the curves part.
`expected(old)` says whether this machine is expected to reproduce a record bit for bit: a
portable-mode record anywhere (with any thread count), a native-mode record on the CPU model,
SIMD level and thread count that made it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from mfh.harness.config import compose_config, to_dict, validate
from mfh.harness.records import cpu_model, read_record, record_path
from mfh.harness.runner import run_job

ROUNDING = 1e-5   # relative difference of a training loss that counts as float rounding
CURVES = ("train_loss", "valid_error", "test_error")


@dataclass(frozen=True)
class Verdict:
    """How a rerun compares with its record; `epoch` is where the curves first part."""

    status: str
    epoch: int | None = None


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def rerun_config(record: dict, results_dir: str | Path, threads: int | None = None) -> dict:
    """The record's configuration over today's defaults (keys added since it was made take
    their neutral default), writing to `results_dir`, without logger or checkpoint; with
    `threads` torch threads (default: a native record's own count, portable mode's default)."""
    config = _merge(to_dict(compose_config()), record["config"])
    if "test_eval" not in record["config"]:   # made before lazy test evaluation existed
        config["test_eval"] = "every"
    if threads is None and record_mode(record) == "native":
        threads = record["provenance"].get("threads")
    return {**config, "results_dir": str(results_dir), "logger": {"name": "none"},
            "checkpoint": False, "numerics": record_mode(record), "threads": threads}


def record_mode(record: dict) -> str:
    return record["provenance"].get("numerics", "native")


def rerun(record: dict, results_dir: str | Path, threads: int | None = None) -> dict:
    """Train the record's configuration and seed again (see `rerun_config`); the new record."""
    spec = validate(rerun_config(record, results_dir, threads))
    path = record_path(spec.results_dir, spec.config, spec.seed)
    run_job(spec, path)
    return read_record(path)


def compare(old: dict, new: dict) -> Verdict:
    """bit-identical, rounding or different (see the module docstring)."""
    a = old["metrics"] or {}
    b = {k: v for k, v in (new["metrics"] or {}).items() if k in a}   # keys added since
    if old["status"] == new["status"] and a == b:
        return Verdict("bit-identical")
    ca, cb = a.get("curves", {}), b.get("curves", {})
    epochs = max(len(ca.get("train_loss", [])), len(cb.get("train_loss", [])))
    parted = next((e + 1 for e in range(epochs) for key in CURVES
                   if _at(ca, key, e) != _at(cb, key, e)), None)
    errors_equal = all(ca.get(k) == cb.get(k) for k in ("valid_error", "test_error"))
    losses = zip(ca.get("train_loss", []), cb.get("train_loss", []), strict=False)
    close = len(ca.get("train_loss", [])) == len(cb.get("train_loss", [])) and all(
        abs(x - y) <= ROUNDING * max(abs(x), abs(y)) for x, y in losses)
    if errors_equal and close and a.get("test_error") == b.get("test_error"):
        return Verdict("rounding", parted)
    return Verdict("different", parted)


def _at(curves: dict, key: str, epoch: int) -> object:
    values = curves.get(key, [])
    return values[epoch] if epoch < len(values) else None


def _vendor(model: str | None) -> str:
    """'Intel', 'AMD' or 'other' from a CPU model name."""
    name = (model or "").lower()
    return "Intel" if "intel" in name else "AMD" if "amd" in name else "other"


def expected(record: dict, threads: int | None = None) -> tuple[bool, str]:
    """(whether this machine, rerunning with `threads` torch threads (None: the record's own),
    should reproduce the record bit for bit, why or why not)."""
    import torch

    made = record["provenance"]
    if record_mode(record) == "portable":
        there, here = _vendor(made.get("cpu_model")), _vendor(cpu_model())
        if there != here:   # MKL honours MKL_CBWR=AVX2 on Intel CPUs only (else: AUTO branch)
            return False, f"portable numerics made on an {there} CPU, here {here}"
        return True, "portable numerics"
    here = (cpu_model(), torch.backends.cpu.get_cpu_capability())
    there = (made.get("cpu_model"), made.get("cpu_capability"))
    if there[0] is None:
        return False, "native numerics on an unnamed CPU (the record predates cpu_model)"
    if there != here:
        return False, f"native numerics on {there[0]} ({there[1]}), here {here[0]} ({here[1]})"
    if threads not in (None, made.get("threads")):
        return False, f"native numerics with {made.get('threads')} threads, rerun with {threads}"
    return True, f"native numerics on this CPU model ({here[0]}, {here[1]})"
