"""The dense teacher of a dark-knowledge run (`+distill=dk`): found through its record.

The teacher of a student configuration and seed is the run of the same configuration with
`model=dense` and no distillation (and the optimiser keys of `distill.teacher_optim`, when a
tuned student and its teacher have different recipes), at the same seed, in the same results
folder: its record
names its compressed checkpoint, whose logits on the training split become the soft targets.
When the record does not exist, `TeacherMissing` says the command that trains it (the runner
stops with exit code 2). When the record exists without its checkpoint (a run made with
checkpoint=false, or a checkpoint not committed), the teacher is trained again from its
record's config and seed; if that gives the record's errors exactly (same numerics: the same
numbers), its checkpoint is kept where the run would have written it, else TeacherMissing.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from mfh.data import Split
from mfh.harness.checkpoint import load_checkpoint
from mfh.harness.config import ConfigError
from mfh.harness.records import CorruptRecord, read_record, record_path
from mfh.harness.specs import RunSpec
from mfh.harness.train import Teacher, logits_of

# What the teacher's command drops: the student's model and distillation, and checkpoint=false
# (the teacher must save its checkpoint: the default).
STUDENT_KEYS = ("model", "hashes", "compression", "distill", "checkpoint")


class TeacherMissing(ConfigError):
    """A dark-knowledge run whose dense teacher has not been trained (or lost its checkpoint)."""


def teacher_config(config: dict) -> dict:
    """The student's configuration with the dense model, without distillation, and with the
    optim keys of `distill.teacher_optim`."""
    teacher = copy.deepcopy(config)
    teacher["optim"].update((config.get("distill") or {}).get("teacher_optim") or {})
    teacher["model"], teacher["distill"] = {"name": "dense"}, None
    return teacher


def teacher_command(overrides: list[str], seed: int,
                    teacher_optim: dict[str, float] | None = None) -> str:
    """`python run.py ...`: the student's command-line overrides with model=dense instead
    and `teacher_optim` as optim values in place of the student's recipe (and the checkpoint
    the student reads)."""
    dropped = (*STUDENT_KEYS, "recipe") if teacher_optim else STUDENT_KEYS
    kept = [o for o in overrides
            if o.lstrip("+~").split("=")[0].split(".")[0].split("/")[0] not in dropped
            and not o.startswith("seed=")]
    optim = [f"optim.{k}={v!r}" for k, v in (teacher_optim or {}).items()]
    return " ".join(["python run.py model=dense", *kept, *optim, f"seed={seed}"])


def load_teacher(spec: RunSpec, train: Split, overrides: list[str]) -> tuple[Teacher, dict]:
    """The soft targets of `spec`'s dense teacher on `train` (its order), and what the record
    says about the teacher (record path, checkpoint, test error)."""
    if spec.distill is None:
        raise ValueError(f"{spec.label} is not a dark-knowledge run")
    path = record_path(spec.results_dir, teacher_config(spec.config), spec.seed)
    command = teacher_command(overrides, spec.seed, spec.distill.teacher_optim)
    try:
        record = read_record(path) if path.exists() else None
    except CorruptRecord:
        record = None
    if record is None or record["status"] != "ok":
        raise TeacherMissing(f"{spec.label} seed={spec.seed} needs its dense teacher {path}, "
                             f"which does not exist; train it first: {command}")
    checkpoint = (record.get("checkpoint") or {}).get("path")
    if checkpoint is None or not Path(checkpoint).exists():
        checkpoint = rebuild_checkpoint(record, Path(spec.results_dir), command)
    logits = logits_of(load_checkpoint(checkpoint).to(train.x.device), train.x)
    about = {"record": str(path), "checkpoint": checkpoint,
             "test_error": record["metrics"]["test_error"]}
    return Teacher(logits, spec.distill.temperature, spec.distill.weight), about


def rebuild_checkpoint(record: dict, results_dir: Path, command: str) -> str:
    """The checkpoint of the teacher `record` (in `results_dir`), trained again from its config
    and seed when it is not on disk; TeacherMissing if the rerun's errors differ from the
    record's."""
    from mfh.harness.runner import run  # the runner imports this module

    final = results_dir / "checkpoints" / record["signature"] / f"seed={record['seed']}.pt"
    if final.exists():
        return str(final)
    print(f"teacher {record['label']} seed={record['seed']}: no checkpoint on disk; training it "
          "again from its record", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.create({**record["config"], "seed": record["seed"], "results_dir": tmp,
                                "checkpoint": True, "logger": {"name": "none"}})
        again, _ = run(cfg, "teacher")
        rerun = read_record(again)
        keys = ("test_error", "valid_error", "best_epoch")
        if rerun["status"] != "ok" or any(rerun["metrics"][k] != record["metrics"][k]
                                          for k in keys):
            raise TeacherMissing(f"the dense teacher {record['label']} seed={record['seed']} "
                                 "has no checkpoint and training it again did not give its "
                                 f"record's errors; delete the record and rerun {command} "
                                 "checkpoint=true")
        final.parent.mkdir(parents=True, exist_ok=True)
        Path(rerun["checkpoint"]["path"]).replace(final)
    return str(final)
