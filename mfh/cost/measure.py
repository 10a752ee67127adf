"""Wall time and memory of a module: the timed measures, the timing protocol, peak memory.

Measures (seconds per call):
- `forward`: the module in train mode with gradients enabled (virtual weights rebuilt);
- `backward`: back-propagation of the loss only (its forward runs untimed before each call);
- `step`: zero_grad + forward + loss + backward + SGD (momentum 0.9) step;
- `inference_cached`: eval mode under no_grad, virtual weights served from the layer cache;
- `reconstruction`: only building every virtual weight and back-propagating a fixed gradient
  into w, g and w' (no matrix product; independent of the batch size);
- `access_floor`: only the random memory accesses of the reconstruction, one read and one add
  of a space value per hash code (`mfh.method.kernels.access_floor`): what no implementation of the
  method can avoid on this CPU (independent of the batch size);
- `g_floor`: only g's arithmetic, its forward and backward once per virtual weight on inputs
  held in L1 (`mfh.method.kernels.g_floor`): what any implementation of this g computes at
  least once per step, without memory accesses (independent of the batch size).
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from mfh.cost.cases import Case, Inputs, hashed_sources, loss
from mfh.method import kernels as native
from mfh.method.virtual import FunctionalWeight, HashPairs

MEASURES = ("forward", "backward", "step", "inference_cached")
LR = 1e-4   # small, so that thousands of timing steps leave the weights in a normal range

Runner = Callable[[], float]


def _mode(module: nn.Module, training: bool) -> None:
    if module.training != training:
        module.train(training)


def runner(case: Case, module: nn.Module, inputs: Inputs, measure: str,
           optimizer: torch.optim.Optimizer) -> Runner:
    """A function that runs `measure` once and returns the seconds it took."""

    def forward() -> float:
        _mode(module, True)
        start = time.perf_counter()
        module(inputs.x)
        return time.perf_counter() - start

    def backward() -> float:
        _mode(module, True)
        value = loss(case, module(inputs.x), inputs)
        start = time.perf_counter()
        value.backward()
        seconds = time.perf_counter() - start
        optimizer.zero_grad(set_to_none=True)
        return seconds

    def step() -> float:
        _mode(module, True)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss(case, module(inputs.x), inputs).backward()
        optimizer.step()
        return time.perf_counter() - start

    def inference_cached() -> float:
        _mode(module, False)
        start = time.perf_counter()
        with torch.no_grad():
            module(inputs.x)
        return time.perf_counter() - start

    runs = {"forward": forward, "backward": backward, "step": step,
            "inference_cached": inference_cached}
    return runs[measure]


def reconstruction_runner(module: nn.Module) -> Runner | None:
    """Build every virtual weight of `module` and back-propagate into w, g, w' (None: dense)."""
    sources = hashed_sources(module)
    if not sources:
        return None
    with torch.no_grad():
        grads = [torch.randn_like(source()) for source in sources]

    def run() -> float:
        start = time.perf_counter()
        for source, grad in zip(sources, grads, strict=True):
            source().backward(grad)
        seconds = time.perf_counter() - start
        for p in module.parameters():
            p.grad = None
        return seconds

    return run


def _timed(calls: list[Callable[[], None]]) -> Runner | None:
    """A runner that makes every call once and returns the seconds taken (None: no calls)."""
    if not calls:
        return None

    def run() -> float:
        start = time.perf_counter()
        for call in calls:
            call()
        return time.perf_counter() - start

    return run


def access_floor_runner(module: nn.Module) -> Runner | None:
    """The random-access floor of `module`'s virtual weights: for every stored set of hash
    codes, one gather and one scatter-add per code (None: dense, naive (no HashPairs), no
    stored codes, or the native kernels not in use for this module)."""
    if not native.supports(*module.parameters()):
        return None
    calls = []
    for source in hashed_sources(module):
        for pairs, space in ((getattr(source, "hashes", None), getattr(source, "space", None)),
                             (getattr(source, "dual_hashes", None),
                              getattr(source, "dual_space", None))):
            if isinstance(pairs, HashPairs) and pairs.mode == "precomputed":
                calls += native.access_floor(pairs.codes, space.w)
    return _timed(calls)


def g_floor_runner(module: nn.Module) -> Runner | None:
    """The arithmetic floor of g in `module`'s virtual weights: g's forward and backward once
    per virtual weight, on inputs in L1, for every FunctionalWeight whose g has a fixed-shape
    kernel (None: dense, HashedNets, identity g, g with biases or other shapes, or the native
    kernels not in use)."""
    if not native.supports(*module.parameters()):
        return None
    calls = []
    for source in hashed_sources(module):
        if not isinstance(source, FunctionalWeight):
            continue
        dual = 0 if source.dual_hashes is None else source.dual_hashes.slots
        if source.g is None and dual == 0:
            continue   # the identity: no arithmetic
        bias = source.g_bias if dual else source.g.layers[0].bias is not None
        call = None if bias else native.g_floor(source.g_widths(), dual,
                                                source.hashes.rows * source.hashes.cols)
        if call is None:
            return None
        calls.append(call)
    return _timed(calls)


def make_optimizer(module: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(module.parameters(), lr=LR, momentum=0.9)


SLOW_S = 0.05   # a call this long is its own warm-up in later rounds


def time_interleaved(runs: dict[str, Runner], rounds: int, budget_s: float, min_calls: int,
                     max_calls: int, wrap: Callable[[str], object]) -> dict[str, list[float]]:
    """Time each runner: `rounds` rounds over all runners, each round starting one runner
    later (rotated order). In every round a runner is warmed up by one untimed call and then
    called m times. m comes from an untimed calibration call after the first warm-up, chosen so
    that one runner takes about `budget_s` in all (within [min_calls, max_calls] per round);
    calls over SLOW_S are their own warm-up and calibration. Interleaving spreads any change in
    machine load over all runners. `wrap(name)` is a context manager around a runner's calls
    (its backend). Returns every timed sample, in seconds.
    """
    names = list(runs)
    calls: dict[str, int] = {}
    slow: dict[str, bool] = {}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ * len(names) // rounds
        for name in names[shift:] + names[:shift]:
            run = runs[name]
            with wrap(name):
                if name not in calls:
                    first = run()
                    slow[name] = first > SLOW_S
                    per_call = first if slow[name] else run()
                    calls[name] = min(max_calls, max(min_calls,
                                                     math.ceil(budget_s / rounds / per_call)))
                elif not slow[name]:
                    run()
                samples[name] += [run() for _ in range(calls[name])]
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def persistent_bytes(module: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes kept between steps: parameters, buffers (hash codes) and optimizer state."""
    total = sum(t.nbytes for t in (*module.parameters(), *module.buffers()))
    for state in optimizer.state.values():
        total += sum(v.nbytes for v in state.values() if isinstance(v, torch.Tensor))
    return total


def peak_train_bytes(case: Case, module: nn.Module, inputs: Inputs,
                     optimizer: torch.optim.Optimizer) -> int:
    """Peak bytes held while training: what is kept between steps (after one step, so the
    momentum exists) plus the peak of what torch allocates during forward, backward and the
    SGD step above that, from the profiler's memory events (every allocation and free of the
    CPU allocator, in order; gradients are freed before the step, so they are counted)."""
    _mode(module, True)

    def train_step() -> None:
        loss(case, module(inputs.x), inputs).backward()
        optimizer.step()

    optimizer.zero_grad(set_to_none=True)
    train_step()
    optimizer.zero_grad(set_to_none=True)
    kept = persistent_bytes(module, optimizer)
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU],
                                  profile_memory=True) as prof:
        train_step()
    optimizer.zero_grad(set_to_none=True)
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return kept + peak


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's C++ log lines (start/stop, no GPU) on file descriptor 2."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def index_bytes(module: nn.Module) -> int:
    """Bytes of stored hash indices: precomputed codes, or naive int64 indices and signs."""
    total = 0
    for m in module.modules():
        if isinstance(m, HashPairs) and m.mode == "precomputed":
            total += m.codes.nbytes
        elif hasattr(m, "index") and hasattr(m, "sign") and isinstance(m.index, torch.Tensor):
            total += m.index.nbytes + m.sign.nbytes
    return total
