"""The training loop: SGD with momentum and lr decay, dropout, best-validation selection.

Read top to bottom: `train` runs `epochs` passes over the training split, setting both
optimizers' learning rates to lr / (1 + lr_decay * t) before step t; after each epoch it measures
validation and test error; the reported test error is the one at the epoch of lowest validation
error (the first such epoch on ties). A non-finite loss stops training with `Diverged`. With a
`Teacher` (dark knowledge), the loss is `distillation_loss` against its logits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mfh.data import Split
from mfh.harness.specs import OptimSpec
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
    test_error: float | None   # None: not evaluated (lazy test evaluation, `test_eval=best`)
    seconds: float
    step_seconds: float
    lr: float


@dataclass(frozen=True)
class Teacher:
    """Dark knowledge: the teacher's logits on every training example (n, classes), in the
    training split's order, the temperature T and the soft-target weight."""

    logits: torch.Tensor
    temperature: float
    weight: float


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor,
                      temperature: float, weight: float) -> torch.Tensor:
    """(1 - weight) CE(logits, y) + weight T^2 KL(softmax(teacher / T) || softmax(logits / T)),
    averaged over the batch; logits (N, classes), y (N,). T^2 keeps the soft term's gradient
    on the scale of the hard one (Hinton et al. 2015)."""
    t = temperature
    soft = F.kl_div(F.log_softmax(logits / t, dim=1), F.log_softmax(teacher_logits / t, dim=1),
                    reduction="batchmean", log_target=True)
    return (1 - weight) * F.cross_entropy(logits, y) + weight * t * t * soft


@dataclass
class TrainResult:
    """Per-epoch logs, the selection at the best validation epoch and the weights there."""

    epochs: list[EpochLog] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    stop_reason: str = "max_epochs"   # or "patience": no validation improvement for P epochs

    @property
    def best(self) -> EpochLog:
        return min(self.epochs, key=lambda e: (e.valid_error, e.epoch))


def make_optimizers(model: nn.Module, optim: OptimSpec) -> list[torch.optim.Optimizer]:
    """SGD with momentum for the network; g gets its own optimizer (`g_optimizer`, `g_lr`).

    g is shared by every virtual weight, so its gradient is a sum over ~1e5-1e6 terms whose size
    grows with the network. Adam's steps do not depend on that size. Each group remembers its
    base learning rate as `initial_lr`, which the loop's decay schedule scales.
    """
    g_ids = {id(p) for m in model.modules() if isinstance(m, Reconstruction)
             for p in m.parameters()}
    params = list(model.parameters())
    main = [p for p in params if id(p) not in g_ids]
    g_params = [p for p in params if id(p) in g_ids]
    optimizers: list[torch.optim.Optimizer] = [torch.optim.SGD(
        main, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay)]
    if g_params and optim.g_optimizer == "adam":
        optimizers.append(torch.optim.Adam(g_params, lr=optim.g_lr))
    elif g_params:
        optimizers.append(torch.optim.SGD(g_params, lr=optim.g_lr, momentum=optim.momentum))
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"]
    return optimizers


def decay_factor(decay: float, step: int) -> float:
    """The schedule of the HashedNets code: lr_t = lr * 1 / (1 + decay * t)."""
    return 1 / (1 + decay * step)


def set_decayed_lr(optimizers: list[torch.optim.Optimizer], decay: float, step: int) -> None:
    """lr_t in every group of every optimizer, from the group's `initial_lr`."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * decay_factor(decay, step)


EVAL_BATCH = 1000   # inputs per forward when evaluating


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """`model(x)` in eval mode, `batch_size` inputs at a time: (N, classes)."""
    model.eval()
    return torch.cat([model(x[k:k + batch_size]) for k in range(0, len(x), batch_size)])


def error_rate(model: nn.Module, split: Split, batch_size: int = EVAL_BATCH) -> float:
    """Classification error of `model` on `split`, in %."""
    wrong = (logits_of(model, split.x, batch_size).argmax(1) != split.y).sum().item()
    return 100.0 * wrong / len(split.y)


State = dict[str, Any]   # what `train` needs to continue after an epoch (see `snapshot`)


def snapshot(model: nn.Module, optimizers: list[torch.optim.Optimizer], order: torch.Generator,
             step: int, result: TrainResult) -> State:
    """Everything needed to continue after the last epoch of `result`, as plain tensors and
    numbers: weights, optimizer states, the batch-order and global RNG states (dropout), the
    step count of the decay schedule, the epoch logs and the best weights so far."""
    return {"epoch": len(result.epochs), "step": step, "model": model.state_dict(),
            "optimizers": [o.state_dict() for o in optimizers], "order": order.get_state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "logs": [asdict(e) for e in result.epochs], "best_state": result.best_state}


def restore(state: State, model: nn.Module, optimizers: list[torch.optim.Optimizer],
            order: torch.Generator) -> tuple[int, TrainResult]:
    """Load `state` into the model, optimizers and generators; return (step, result so far)."""
    model.load_state_dict(state["model"])
    for optimizer, saved in zip(optimizers, state["optimizers"], strict=True):
        optimizer.load_state_dict(saved)
    order.set_state(state["order"])
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    result = TrainResult([EpochLog(**e) for e in state["logs"]], state["best_state"])
    return state["step"], result


def train(model: nn.Module, train_split: Split, valid: Split, test: Split, epochs: int,
          optim: OptimSpec, seed: int,
          on_epoch: Callable[[EpochLog], None] = lambda log: None,
          resume: State | None = None,
          save_state: Callable[[State], None] | None = None,
          patience: int | None = None, test_eval: str = "every",
          teacher: Teacher | None = None) -> TrainResult:
    """Train `model` in place and return the per-epoch logs; `on_epoch` sees each log.

    `save_state` receives the training state after every epoch (before `on_epoch`); `resume`,
    such a state, continues from the epoch after it, with the numbers an uninterrupted run has.
    `patience`: stop once the validation error has not improved for that many epochs (None:
    run all `epochs`). `test_eval="best"` measures the test error only at epochs where the
    validation error improves, the only ones whose test error can be reported. `teacher`:
    train on `distillation_loss` against its logits instead of the cross-entropy alone.
    """
    optimizers = make_optimizers(model, optim)
    order = torch.Generator().manual_seed(seed)
    result = TrainResult()
    n = len(train_split.y)
    step = 0   # optimizer steps so far: the t of the decay schedule
    if resume is not None:
        step, result = restore(resume, model, optimizers, order)
    for epoch in range(len(result.epochs) + 1, epochs + 1):
        if patience is not None and result.epochs and epoch - 1 - result.best.epoch >= patience:
            result.stop_reason = "patience"
            break
        model.train()
        start = time.perf_counter()
        total, steps = 0.0, 0
        for batch in torch.randperm(n, generator=order).split(optim.batch_size):
            set_decayed_lr(optimizers, optim.lr_decay, step)
            logits, y = model(train_split.x[batch]), train_split.y[batch]
            loss = (F.cross_entropy(logits, y) if teacher is None else distillation_loss(
                logits, teacher.logits[batch], y, teacher.temperature, teacher.weight))
            value = loss.item()   # the one host sync of the step
            if not math.isfinite(value):
                raise Diverged(epoch, f"training loss is {value} at step {steps + 1}")
            model.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            total += value * len(batch)
            steps += 1
            step += 1
        seconds = time.perf_counter() - start
        lr = optim.lr * decay_factor(optim.lr_decay, step)   # the rate of the next step
        valid_error = error_rate(model, valid)
        improved = not result.epochs or valid_error < result.best.valid_error
        test_error = error_rate(model, test) if improved or test_eval == "every" else None
        log = EpochLog(epoch, total / n, valid_error, test_error, seconds, seconds / steps, lr)
        result.epochs.append(log)
        if improved:
            result.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if save_state is not None:
            save_state(snapshot(model, optimizers, order, step, result))
        on_epoch(log)
    return result
