"""The dense teacher of a dark-knowledge run (`+distill=dk`): found through its record.

The teacher of a student configuration and seed is the run of the same configuration with
`model=dense` and no distillation (and the optimiser keys of `distill.teacher_optim`, when a
tuned student and its teacher have different recipes), at the same seed, in the same results
folder: its record
names its compressed checkpoint, whose logits on the training split become the soft targets.
When the record, or its checkpoint, does not exist, `TeacherMissing` says the command that
trains it (the runner stops with exit code 2).
"""

from __future__ import annotations

import copy
from pathlib import Path

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
        raise TeacherMissing(f"{spec.label} seed={spec.seed}: the dense teacher {path} has no "
                             f"checkpoint file ({checkpoint}); delete the record and rerun "
                             f"{command} checkpoint=true")
    logits = logits_of(load_checkpoint(checkpoint).to(train.x.device), train.x)
    about = {"record": str(path), "checkpoint": checkpoint,
             "test_error": record["metrics"]["test_error"]}
    return Teacher(logits, spec.distill.temperature, spec.distill.weight), about
