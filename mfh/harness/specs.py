"""The typed specs a validated config becomes: frozen dataclasses, no DictConfig below here.

`mfh.harness.config.validate(cfg)` returns a `RunSpec`; the model builder, the training loop,
the data loaders and the tracker each receive only their part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mfh.method.specs import HashingSpec


@dataclass(frozen=True)
class ArchSpec:
    """The network: conv layers (out channels, kernel, padding; each ReLU + 2x2 max-pool), then
    fully connected hidden widths; dropout on the flattened input and after each hidden ReLU."""

    name: str
    hidden: tuple[int, ...]
    conv: tuple[tuple[int, int, int], ...] = ()
    dropout_input: float = 0.0
    dropout_hidden: float = 0.0


@dataclass(frozen=True)
class OptimSpec:
    """SGD with momentum for w, w' and biases; `g_optimizer` (adam | sgd) at `g_lr` for g.
    Both learning rates are scaled by 1 / (1 + lr_decay * t) at step t."""

    lr: float = 0.1
    lr_decay: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 50
    g_optimizer: str = "adam"
    g_lr: float = 1e-3


@dataclass(frozen=True)
class DataSpec:
    """A dataset: its name, the options of its YAML (plain values), and where / how to read it.
    `data_seed` seeds generation and the train / valid / test split."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0
    data_dir: str = "data"
    download: bool = False

    @property
    def label(self) -> str:
        """The dataset as records and tables name it: `name`, or for a variant over a digit
        source other than the default mnist5k, `<source>_<name>` with the source's `_mnist`
        dropped (`basic` over `fashion_mnist`: `fashion_basic`)."""
        base = self.options.get("base", "mnist5k")
        return self.name if base == "mnist5k" else f"{base.removesuffix('_mnist')}_{self.name}"


@dataclass(frozen=True)
class LoggerSpec:
    """Where per-epoch metrics go: `wandb` (offline by default: `mode`, `project`, `dir`;
    `log_checkpoint`: the checkpoint as an artifact) or `none`."""

    name: str
    project: str = "mfh"
    mode: str = "offline"
    dir: str = "results/wandb"
    log_checkpoint: bool = False   # the compressed checkpoint as a W&B `model` artifact


@dataclass(frozen=True)
class DistillSpec:
    """Dark knowledge (Hinton et al. 2015): train on the dense teacher's outputs softened by
    `temperature`, the soft-target loss weighted `weight` and the labels' 1 - `weight`.
    `teacher_optim`: the optim keys in which the teacher's config differs from the student's
    (None: none; mfh/harness/teacher.py)."""

    temperature: float = 4.0
    weight: float = 0.9
    teacher_optim: dict[str, float] | None = None


@dataclass(frozen=True)
class RunSpec:
    """One (configuration, seed) job: everything the runner needs, validated.

    `config` is the resolved configuration as a plain dict (what the record stores);
    `signature` names the record folder; `label` the table row. `threads`: torch threads
    (None: torch's default, every core). `lock_wait`: wait for a job another process is
    running instead of skipping it. `patience`: early stopping after that many epochs without
    a validation improvement (None: never). `test_eval`: `best` (the test set only at epochs
    where the validation error improves) or `every`. `distill`: dark knowledge from the dense
    teacher of the same configuration and seed (label suffix `+DK`), or None.
    """

    seed: int
    epochs: int
    train_limit: int | None
    results_dir: str
    device: str
    checkpoint: bool
    hashing: HashingSpec
    arch: ArchSpec
    optim: OptimSpec
    data: DataSpec
    logger: LoggerSpec
    config: dict[str, Any]
    signature: str
    threads: int | None = None
    lock_wait: bool = False
    patience: int | None = None
    test_eval: str = "best"
    distill: DistillSpec | None = None

    @property
    def label(self) -> str:
        return self.hashing.label + ("+DK" if self.distill else "")
