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
    def log(self, metrics: dict, step: int) -> None: ...
    def finish(self, summary: dict) -> None: ...


class NullTracker:
    """Tracks nothing (`logger=none`)."""

    def log(self, metrics: dict, step: int) -> None:
        pass

    def finish(self, summary: dict) -> None:
        pass


class WandbTracker:
    """One W&B run per (configuration, seed), grouped by configuration signature."""

    def __init__(self, logger: LoggerSpec, config: dict, label: str, group: str,
                 seed: int) -> None:
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        Path(logger.dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=logger.project, mode=logger.mode, dir=logger.dir,
                              config=config, group=f"{label} [{group}]", job_type=label,
                              name=f"{label} seed={seed}", tags=[label], reinit="create_new")

    def log(self, metrics: dict, step: int) -> None:
        self.run.log(metrics, step=step)

    def finish(self, summary: dict) -> None:
        self.run.summary.update(summary)
        self.run.finish()


def make_tracker(logger: LoggerSpec, config: dict, label: str, group: str,
                 seed: int) -> Tracker:
    """The tracker chosen by `logger.name`."""
    if logger.name == "wandb":
        return WandbTracker(logger, config, label, group, seed)
    return NullTracker()
