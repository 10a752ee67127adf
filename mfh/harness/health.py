"""Training health: did a run train, sit at chance loss, or blow up?

A mean over seeds hides a run that never trained. `training_health` classifies a run from its
per-epoch mean training loss (nats), by a rule written before the runs it judges:
- `diverged`: the loss became non-finite, or an epoch's mean training loss was above chance
  by more than PLATEAU (chance = ln(classes), the loss of a uniform guess: a net that does
  worse than guessing has been thrown out by its steps); `epoch`: the first such epoch.
- `dead`: every epoch at chance loss (within PLATEAU of it).
- `plateau`: the first epochs at chance loss, then it left; `epoch`: the last epoch at chance.
- `ok`: otherwise (`epoch` None).
A healthy first epoch of our nets is at 0.8-1.4 nats on 10 classes (chance 2.30). A distilled
run (dark knowledge) trains on a loss whose scale is not the cross-entropy's: it is at chance
while its validation error is within PLATEAU x 100 points of a guess's, 100 (1 - 1 / classes)
%, and it diverges only by a non-finite loss.

The rule was revised once, before any committed result used it: "diverged" first meant above
2 x chance, which let runs whose loss rose from 2.0 to 2.5-2.7 nats (validation error 75-90%)
pass as ok (the lr_range search, step_scale=layer at lr 0.1). `record_health` recomputes the
rule from a record's curves, so every record is judged by the rule of this file.
"""

from __future__ import annotations

import math

from mfh.data.load import num_classes

HEALTH = ("ok", "plateau", "dead", "diverged")
PLATEAU = 0.02    # relative distance to chance loss that counts as "at chance"


def training_health(train_losses: list[float], classes: int, diverged_at: int | None = None,
                    valid_errors: list[float] | None = None) -> dict:
    """{"status": one of HEALTH, "epoch": int | None} for a run's per-epoch training losses
    (epoch 1 first); `diverged_at`: the epoch whose loss became non-finite (the run stopped);
    `valid_errors` (%, per epoch): given for a distilled run, whose loss is not on the
    cross-entropy's scale, they decide "at chance" instead."""
    chance = math.log(classes)
    for epoch, loss in enumerate(train_losses, 1):
        if not math.isfinite(loss) or (valid_errors is None and loss > (1 + PLATEAU) * chance):
            return {"status": "diverged", "epoch": epoch}
    if diverged_at is not None:
        return {"status": "diverged", "epoch": diverged_at}
    if valid_errors is None:
        curve = [abs(loss - chance) <= PLATEAU * chance for loss in train_losses]
    else:
        guess = 100 * (1 - 1 / classes)
        curve = [error >= guess * (1 - PLATEAU) for error in valid_errors]
    at_chance = 0
    while at_chance < len(curve) and curve[at_chance]:
        at_chance += 1
    if curve and at_chance == len(curve):
        return {"status": "dead", "epoch": at_chance}
    return {"status": "plateau", "epoch": at_chance} if at_chance else {"status": "ok",
                                                                         "epoch": None}


def record_health(record: dict) -> dict | None:
    """A record's health by this file's rule, from its curves, its dataset's classes and its
    failure (records made before `metrics.health` existed too); None without either."""
    metrics = record.get("metrics") or {}
    curves = metrics.get("curves") or {}
    losses = curves.get("train_loss")
    failure = record.get("failure") or {}   # a non-finite loss stops a run without a traceback
    diverged = failure.get("epoch") if failure and "traceback" not in failure else None
    if not losses and diverged is None:
        return None
    config = record["config"]
    valid = curves.get("valid_error") if config.get("distill") else None
    return training_health(losses or [], num_classes(config["dataset"]["name"]), diverged, valid)


def health_status(record: dict) -> str:
    """`record_health`'s status, "ok" for a record with neither curves nor a divergence."""
    return (record_health(record) or {"status": "ok"})["status"]
