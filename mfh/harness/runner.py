"""One run: validate the config, build data and model, train, write the record.

`run(cfg)` is what `run.py` calls for every job of a sweep. A run whose record exists with
status ok is skipped; a run that fails (NaN loss, exception) writes a record with status
`failed` and the reason, and returns so that the sweep goes on.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from omegaconf import DictConfig

from mfh.atomic import write_atomic
from mfh.data import Split, Splits, load_splits
from mfh.harness.checkpoint import dense_bytes, save_checkpoint
from mfh.harness.config import validate
from mfh.harness.health import record_health
from mfh.harness.models import build_model, count_parameters, layer_specs
from mfh.harness.records import (
    SCHEMA,
    CorruptRecord,
    provenance,
    read_record,
    record_path,
    set_aside,
    write_record,
)
from mfh.harness.specs import RunSpec
from mfh.harness.teacher import load_teacher
from mfh.harness.tracking import make_tracker
from mfh.harness.train import Diverged, EpochLog, State, TrainResult, train

Watch = Callable[[EpochLog], None]   # sees each epoch's log; may raise Pruned


class Pruned(Exception):  # noqa: N818 - a decision, not an error
    """Raised by a run's watch to stop it after `epoch` without a record (a tuner's pruner):
    its per-epoch state stays, so a rerun replays the same epochs to the watch."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch}")
        self.epoch = epoch


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def prepare(splits: Splits, train_limit: int | None, device: torch.device) -> Splits:
    """`splits` on `device`, with only the first `train_limit` training examples (None: all)."""
    def move(split: Split, n: int | None = None) -> Split:
        return Split(split.x[:n].to(device), split.y[:n].to(device))

    return Splits(splits.name, move(splits.train, train_limit), move(splits.valid),
                  move(splits.test), splits.num_classes)


def existing_ok(path: Path) -> bool:
    """Whether `path` holds a finished record (failed records are retried). An unreadable
    record is renamed to `<name>.corrupt`, said so, and its job runs again."""
    if not path.exists():
        return False
    try:
        return read_record(path).get("status") == "ok"
    except CorruptRecord as err:
        print(f"{err}; moved to {set_aside(path)}, running the job again", file=sys.stderr)
        return False


def metrics_of(result: TrainResult) -> dict:
    """The record's `metrics`: selection at the best validation epoch, and per-epoch curves."""
    best = result.best
    return {
        "test_error": best.test_error,
        "valid_error": best.valid_error,
        "best_epoch": best.epoch,
        "train_loss": result.epochs[-1].train_loss,
        "epochs_run": len(result.epochs), "stop_reason": result.stop_reason,
        "curves": {key: [getattr(e, key) for e in result.epochs]
                   for key in ("train_loss", "valid_error", "test_error", "lr")},
    }


def compression_of(spec: RunSpec, model: torch.nn.Module, splits: Splits) -> dict:
    """The record's compression accounting: nominal ratio, virtual and stored parameters."""
    virtual = sum(s.virtual for s in layer_specs(spec.arch, splits.shape, splits.num_classes))
    stored = count_parameters(model)
    nominal = spec.hashing.compression if spec.hashing.model != "dense" else 1.0
    return {"nominal": nominal, "virtual_params": virtual, "stored_params": stored,
            "ratio": stored / virtual}


def write_checkpoint(model: torch.nn.Module, result: TrainResult, spec: RunSpec,
                     splits: Splits) -> dict:
    """Save the compressed model at the best validation epoch; its size beside the dense one's."""
    model.load_state_dict(result.best_state)
    path = Path(spec.results_dir) / "checkpoints" / spec.signature / f"seed={spec.seed}.pt"
    size = save_checkpoint(model, spec.config, splits.shape, splits.num_classes, path)
    return {"path": str(path), "bytes": size,
            "dense_bytes": dense_bytes(spec.arch, splits.shape, splits.num_classes)}


def state_path(record: Path) -> Path:
    """The training state beside a record: `seed=<s>.state.pt`."""
    return record.with_name(record.stem + ".state.pt")


def load_state(path: Path) -> State | None:
    """The training state at `path`, or None (said so) when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable state means starting over
        print(f"{path}: unreadable training state ({err}); starting from epoch 1",
              file=sys.stderr)
        return None


def run(cfg: DictConfig, progress: str = "", overrides: list[str] | None = None,
        watch: Watch | None = None) -> tuple[Path, str]:
    """Run one (configuration, seed) job; return its record's path and status (ok | failed |
    running: another process holds the job's lock). `progress` ("job 3/8, ...") prefixes the
    job's first line; `overrides` (the job's command line) go into the command a missing
    dark-knowledge teacher is told to be trained with (TeacherMissing); `watch` sees every
    epoch's log (those replayed on resume too) and may stop the run by raising Pruned."""
    spec = validate(cfg)
    path = record_path(spec.results_dir, spec.config, spec.seed)

    def skip(why: str) -> None:
        print(f"{progress + ': ' if progress else ''}skip {spec.label} seed={spec.seed}: {why}")

    if existing_ok(path):
        skip(f"record exists at {path}")
        return path, "ok"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.with_suffix(".lock"))
    try:
        lock.acquire(timeout=-1 if spec.lock_wait else 0)
    except Timeout:
        skip(f"running elsewhere (lock {lock.lock_file})")
        return path, "running"
    try:
        if existing_ok(path):   # finished by another process while we waited
            skip(f"record exists at {path}")
            return path, "ok"
        return path, run_job(spec, path, progress, overrides or [], watch)
    finally:
        lock.release()


def run_job(spec: RunSpec, path: Path, progress: str = "",
            overrides: list[str] | None = None, watch: Watch | None = None) -> str:
    """Train `spec` (from its saved state, if any), write its record at `path`; its status.
    A Pruned raised by `watch` passes through: no record, the per-epoch state is kept."""
    name, sig, seed = spec.label, spec.signature, spec.seed
    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    resume = load_state(state_path(path))
    started = resume["started"] if resume else _now()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    device = torch.device(spec.device)
    splits = prepare(load_splits(spec.data), spec.train_limit, device)
    teacher, about = (load_teacher(spec, splits.train, overrides or []) if spec.distill
                      else (None, None))
    model = build_model(spec.arch, spec.hashing, splits.shape, splits.num_classes).to(device)
    record = {"schema": SCHEMA, "status": "ok", "label": name, "signature": sig,
              "seed": seed, "dataset": spec.data.label, "config": spec.config, "failure": None,
              "compression": compression_of(spec, model, splits),
              "provenance": {**provenance(), "device": str(device)},
              "started": started, "resumed_from_epoch": resume["epoch"] if resume else None,
              **({"teacher": about} if about else {})}
    c = record["compression"]
    print(f"{progress + ': ' if progress else ''}{name} seed={seed} on {spec.data.label}: "
          f"{len(splits.train.y)} train, "
          f"{c['stored_params']:,} stored / {c['virtual_params']:,} virtual parameters "
          f"(ratio {c['ratio']:.4f})" + (f"; resuming after epoch {resume['epoch']}"
                                         if resume else ""))
    tracker = make_tracker(spec.logger, spec.config, name, sig, seed,
                           {"record": str(path), "dataset_label": spec.data.label,
                            "compression": record["compression"]})
    logs: list[EpochLog] = []

    def on_epoch(log: EpochLog) -> None:
        logs.append(log)
        test = "     -" if log.test_error is None else f"{log.test_error:6.2f}%"
        print(f"  {name} seed={seed} epoch {log.epoch:3d}/{spec.epochs}  "
              f"loss {log.train_loss:.4f}  valid {log.valid_error:6.2f}%  "
              f"test {test}  {log.seconds:.1f}s", flush=True)
        metrics = {"train_loss": log.train_loss, "valid_error": log.valid_error,
                   "test_error": log.test_error, "lr": log.lr, "seconds_per_epoch": log.seconds}
        tracker.log({k: v for k, v in metrics.items() if v is not None}, log.epoch)
        if watch is not None:
            watch(log)

    def save_state(state: State) -> None:
        write_atomic(state_path(path), lambda f: torch.save({**state, "started": started}, f))

    try:
        for saved in resume["logs"] if resume else []:
            on_epoch(EpochLog(**saved))
        result = train(model, splits.train, splits.valid, splits.test, spec.epochs, spec.optim,
                       seed, on_epoch, resume, save_state, spec.patience, spec.test_eval,
                       teacher)
        record["metrics"] = metrics_of(result)
        if spec.checkpoint:
            record["checkpoint"] = write_checkpoint(model, result, spec, splits)
            tracker.log_checkpoint(record["checkpoint"]["path"],
                                   {"label": name, "signature": sig, "seed": seed,
                                    "test_error": record["metrics"]["test_error"],
                                    **record["compression"]})
    except Pruned as stop:
        tracker.finish({"status": "pruned", "pruned_epoch": stop.epoch}, failed=False)
        print(f"pruned {name} seed={seed} after epoch {stop.epoch} (its state is kept: a rerun "
              "replays it)", flush=True)
        raise
    except Diverged as err:
        record.update(status="failed", failure={"epoch": err.epoch, "reason": err.reason})
    except Exception as err:  # noqa: BLE001 - any failure becomes a failed record
        epoch = len(logs) + 1
        reason = "".join(traceback.format_exception_only(err)).strip()
        record.update(status="failed", failure={"epoch": epoch, "reason": reason,
                                                "traceback": traceback.format_exc()})
    if record["status"] == "failed":
        record["metrics"] = metrics_of(TrainResult(logs)) if logs else None
    health = record_health(record) or {"status": None, "epoch": None}   # None: no epoch ran
    if record["metrics"] is not None:
        record["metrics"]["health"] = health
    record["cost"] = {
        "seconds_per_epoch": sum(e.seconds for e in logs) / len(logs) if logs else None,
        "step_seconds": sum(e.step_seconds for e in logs) / len(logs) if logs else None,
    }
    record["finished"] = _now()
    write_record(path, record)
    state_path(path).unlink(missing_ok=True)
    summary = {"status": record["status"], **{k: v for k, v in (record["metrics"] or {}).items()
                                              if k not in ("curves", "health")},
               "health": health["status"], "health_epoch": health["epoch"]}
    if record["failure"]:
        summary.update(failure_epoch=record["failure"]["epoch"],
                       failure_reason=record["failure"]["reason"])
    tracker.finish(summary, failed=record["status"] == "failed")
    if record["status"] == "failed":
        failure = record["failure"]
        print(f"FAILED {name} seed={seed} at epoch {failure['epoch']}: "
              f"{failure['reason']}; record: {path}", file=sys.stderr)
    else:
        best = result.best
        stop = ("" if result.stop_reason == "max_epochs" else
                f", stopped after epoch {len(result.epochs)} (patience {spec.patience})")
        print(f"done {name} seed={seed}: test error {best.test_error:.2f}% at best "
              f"validation epoch {best.epoch}{stop}; record: {path}")
        if health["status"] != "ok":
            print(f"WARNING {name} seed={seed}: training health {health['status']} (epoch "
                  f"{health['epoch']}, mfh/harness/health.py): look at its cause before "
                  "averaging it in", file=sys.stderr)
    return record["status"]
