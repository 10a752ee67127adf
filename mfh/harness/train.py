"""The training loop: SGD with momentum and lr decay, dropout, best-validation selection.

Read top to bottom: `train` runs `epochs` passes over the training split; after each it measures
validation and test error; the reported test error is the one at the epoch of lowest validation
error (the first such epoch on ties). A non-finite loss stops training with `Diverged`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from mfh.data import Split
from mfh.method.reconstruction import Reconstruction


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, reason: str) -> None:
        super().__init__(f"epoch {epoch}: {reason}")
        self.epoch, self.reason = epoch, reason


@dataclass
class EpochLog:
    """What one epoch measured. Errors in %, loss in nats, time in seconds."""

    epoch: int
    train_loss: float
    valid_error: float
    test_error: float
    seconds: float
    step_seconds: float
    lr: float


@dataclass
class TrainResult:
    """Per-epoch logs, the selection at the best validation epoch and the weights there."""

    epochs: list[EpochLog] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def best(self) -> EpochLog:
        return min(self.epochs, key=lambda e: (e.valid_error, e.epoch))


def make_optimizers(model: nn.Module, optim: DictConfig
                    ) -> list[tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]]:
    """SGD with momentum for the network; lr_t = lr / (1 + lr_decay * t), t counting steps.

    The reconstruction networks g get their own optimizer (`g_optimizer`, `g_lr`, same decay):
    g is shared by every virtual weight, so its gradient is a sum over ~1e5-1e6 terms whose size
    grows with the network. Adam's steps do not depend on that size.
    """
    g_ids = {id(p) for m in model.modules() if isinstance(m, Reconstruction)
             for p in m.parameters()}
    params = list(model.parameters())
    main = [p for p in params if id(p) not in g_ids]
    g_params = [p for p in params if id(p) in g_ids]
    optimizers = [torch.optim.SGD(main, lr=optim.lr, momentum=optim.momentum,
                                  weight_decay=optim.weight_decay)]
    if g_params and optim.g_optimizer == "adam":
        optimizers.append(torch.optim.Adam(g_params, lr=optim.g_lr))
    elif g_params:
        optimizers.append(torch.optim.SGD(g_params, lr=optim.g_lr, momentum=optim.momentum))
    decay = optim.lr_decay
    return [(opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + decay * t)))
            for opt in optimizers]


@torch.no_grad()
def error_rate(model: nn.Module, split: Split, batch_size: int = 1000) -> float:
    """Classification error of `model` on `split`, in %."""
    model.eval()
    wrong = 0
    for start in range(0, len(split.y), batch_size):
        x = split.x[start:start + batch_size]
        wrong += (model(x).argmax(1) != split.y[start:start + batch_size]).sum().item()
    return 100.0 * wrong / len(split.y)


def train(model: nn.Module, train_split: Split, valid: Split, test: Split, epochs: int,
          optim: DictConfig, seed: int,
          on_epoch: Callable[[EpochLog], None] = lambda log: None) -> TrainResult:
    """Train `model` in place and return the per-epoch logs; `on_epoch` sees each log."""
    optimizers = make_optimizers(model, optim)
    order = torch.Generator().manual_seed(seed)
    result = TrainResult()
    n = len(train_split.y)
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        total, steps = 0.0, 0
        for batch in torch.randperm(n, generator=order).split(optim.batch_size):
            loss = F.cross_entropy(model(train_split.x[batch]), train_split.y[batch])
            if not math.isfinite(loss.item()):
                raise Diverged(epoch, f"training loss is {loss.item()} at step {steps + 1}")
            model.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer, scheduler in optimizers:
                optimizer.step()
                scheduler.step()
            total += loss.item() * len(batch)
            steps += 1
        seconds = time.perf_counter() - start
        log = EpochLog(epoch, total / n, error_rate(model, valid), error_rate(model, test),
                       seconds, seconds / steps, optimizers[0][1].get_last_lr()[0])
        result.epochs.append(log)
        if result.best is log:
            result.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        on_epoch(log)
    return result
