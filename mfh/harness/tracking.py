"""Experiment tracking: Weights & Biases (offline by default) or nothing.

The seeds of one configuration share a W&B group (the config signature), so the dashboard
shows them together. Nothing is ever read back from W&B.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from mfh.harness.specs import LoggerSpec


class Tracker(Protocol):
    def log(self, metrics: dict, epoch: int) -> None: ...
    def log_checkpoint(self, path: str, metadata: dict) -> None: ...
    def finish(self, summary: dict, failed: bool) -> None: ...


class NullTracker:
    """Tracks nothing (`logger=none`)."""

    def log(self, metrics: dict, epoch: int) -> None:
        pass

    def log_checkpoint(self, path: str, metadata: dict) -> None:
        pass

    def finish(self, summary: dict, failed: bool) -> None:
        pass


class WandbTracker:
    """One W&B run per (configuration, seed), grouped by configuration signature.

    Named `<label> <dataset> seed=<s>`, tagged with the label, dataset, architecture and
    model, `job_type` "train". Every epoch is one history row stepped by `epoch` and committed
    at once, so the summary written at the end is exactly the record's selected metrics (with
    a held row, `finish` would overwrite it with the last epoch's). A failed run finishes with
    exit code 1 and its reason in the summary.
    """

    def __init__(self, logger: LoggerSpec, config: dict, label: str, signature: str,
                 seed: int, extra: dict) -> None:
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        Path(logger.dir).mkdir(parents=True, exist_ok=True)
        self.signature, self.seed = signature, seed
        self.log_checkpoints = logger.log_checkpoint
        dataset = extra.get("dataset_label", config["dataset"]["name"])
        arch = config["arch"]["name"]
        self.run = wandb.init(
            project=logger.project, mode=logger.mode, dir=logger.dir,
            config={**config, "label": label, "signature": signature, **extra},
            group=f"{label} [{signature}]", job_type="train",
            name=f"{label} {dataset} seed={seed}",
            tags=[label, dataset, arch, config["model"]["name"]], reinit="create_new")
        self.run.define_metric("epoch")
        self.run.define_metric("*", step_metric="epoch")

    def log(self, metrics: dict, epoch: int) -> None:
        self.run.log({"epoch": epoch, **metrics})

    def log_checkpoint(self, path: str, metadata: dict) -> None:
        """The compressed checkpoint as a `model` artifact `<signature>-seed<s>` (only with
        `logger.log_checkpoint=true`)."""
        if not self.log_checkpoints:
            return
        import wandb

        artifact = wandb.Artifact(f"{self.signature}-seed{self.seed}", type="model",
                                  metadata=metadata)
        artifact.add_file(path)
        self.run.log_artifact(artifact)

    def finish(self, summary: dict, failed: bool) -> None:
        self.run.summary.update(summary)
        self.run.finish(exit_code=1 if failed else 0)


def make_tracker(logger: LoggerSpec, config: dict, label: str, signature: str, seed: int,
                 extra: dict) -> Tracker:
    """The tracker chosen by `logger.name`; `extra` goes into the run's config (the record's
    path, the compression accounting)."""
    if logger.name == "wandb":
        return WandbTracker(logger, config, label, signature, seed, extra)
    return NullTracker()
