"""The HashedNets paper's baselines (section 6), at the same stored-parameter budget.

- **NN** (`equal_nn`): the same architecture with every hidden width (conv channels and fc
  units; not the input, not the classes) scaled by one factor, chosen so that the stored
  parameters come closest to round(compression * virtual) (`equal_size_layers`).
- **LRD** (`lrd`), low-rank decomposition: each weight matrix (out, fan_in) is U V with
  U (out, r) and V (r, fan_in), plus its bias; the ranks are chosen for the budget, the
  output layer kept dense where the budget allows (`lrd_ranks`).
- **RER** (`rer`), random edge removal: each layer keeps a fixed random set of its
  connections, drawn from `mask_seed`, and stores and trains only those (`rer_counts`).

Virtual parameters are always the dense network's; stored parameters are what the modules hold
(index buffers are not parameters: they are regenerated from the seed).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mfh.method.budget import BudgetError, LayerSpec, split_proportionally


def dense_stored(layers: list[LayerSpec]) -> int:
    return sum(s.virtual for s in layers)


def scaled_layers(layers: list[LayerSpec], factor: float) -> list[LayerSpec]:
    """`layers` with every hidden width scaled by `factor` (rounded, at least 1); an fc layer
    after convs reads the scaled channels at the same spatial positions."""
    out: list[LayerSpec] = []
    for k, spec in enumerate(layers):
        last = k == len(layers) - 1
        width = spec.out_features if last else max(1, round(spec.out_features * factor))
        fan = spec.in_features
        if out:
            fan = out[-1].out_features * (spec.in_features // layers[k - 1].out_features)
        out.append(LayerSpec(spec.kind, fan, width, spec.kernel, spec.stride, spec.padding))
    return out


def equal_size_layers(layers: list[LayerSpec], compression: float) -> list[LayerSpec]:
    """The layer shapes of the equal-size network: the hidden-width factor whose stored
    parameters are closest to round(compression * virtual) (bisection, then the neighbours)."""
    target = round(compression * dense_stored(layers))
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if dense_stored(scaled_layers(layers, mid)) < target:
            low = mid
        else:
            high = mid
    candidates = [scaled_layers(layers, f) for f in (low, high)]
    return min(candidates, key=lambda c: abs(dense_stored(c) - target))


def lrd_ranks(layers: list[LayerSpec], compression: float) -> list[int | None]:
    """Rank per layer (None: the layer is kept dense) whose stored count comes closest to
    round(compression * virtual). The output layer (10 classes: its factors at full rank are
    larger than itself, and a lower rank caps the logits' dimension) stays dense when the rest
    of the budget still gives every other layer a rank; each layer starts at rank 1, then one
    rank at a time goes to the layer furthest below its proportional share that still fits,
    and a last rank of the cheapest layer if that comes closer to the target."""
    target = round(compression * dense_stored(layers))
    hidden_min = sum(s.out_features * 2 + s.fan_in for s in layers[:-1])
    keep_last = len(layers) > 1 and target - layers[-1].virtual - hidden_min >= 0
    factored = layers[:-1] if keep_last else layers
    budget = target - (layers[-1].virtual if keep_last else 0)
    units = [s.out_features + s.fan_in for s in factored]
    caps = [min(s.out_features, s.fan_in) for s in factored]
    shares = [compression * s.virtual - s.out_features for s in factored]
    ranks = [1] * len(factored)
    left = budget - sum(s.out_features for s in factored) - sum(units)
    if left < 0:
        raise BudgetError(f"compression={compression} is below one rank per layer")
    while True:
        fits = [k for k, u in enumerate(units) if u <= left and ranks[k] < caps[k]]
        if not fits:
            break
        k = max(fits, key=lambda j: (shares[j] - ranks[j] * units[j]) / units[j])
        ranks[k] += 1
        left -= units[k]
    open_layers = [k for k in range(len(units)) if ranks[k] < caps[k]]
    if open_layers:
        k = min(open_layers, key=lambda j: units[j])
        if units[k] - left < left:
            ranks[k] += 1
    return [*ranks, None] if keep_last else ranks


def rer_counts(layers: list[LayerSpec], compression: float) -> list[int]:
    """Kept connections per layer: round(compression * virtual) minus the biases, split in
    proportion to each layer's weights (so every layer keeps about the same fraction)."""
    budget = round(compression * dense_stored(layers)) - sum(s.out_features for s in layers)
    counts = split_proportionally(budget, [s.weights for s in layers])
    if min(counts) < 1:
        raise BudgetError(f"compression={compression} leaves a layer without connections")
    return counts


class _MatrixLayer(nn.Module):
    """A linear or conv layer whose (out, fan_in) weight matrix a subclass builds."""

    def __init__(self, spec: LayerSpec) -> None:
        super().__init__()
        self.spec = spec
        bound = 1 / math.sqrt(spec.fan_in)
        self.bias = nn.Parameter(torch.empty(spec.out_features).uniform_(-bound, bound))

    def matrix(self) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in) or (N, C, H, W); the dense layer's output with this weight."""
        s, w = self.spec, self.matrix()
        if s.kind == "linear":
            return F.linear(x, w, self.bias)
        return F.conv2d(x, w.view(s.out_features, s.in_features, *s.kernel), self.bias,
                        s.stride, s.padding)


class LowRankLayer(_MatrixLayer):
    """Weight U V: U (out, rank), V (rank, fan_in), initialised so U V has the dense layer's
    scale (entries of variance about 1 / (3 fan_in))."""

    def __init__(self, spec: LayerSpec, rank: int) -> None:
        super().__init__(spec)
        scale = (1 / (3 * spec.fan_in * rank)) ** 0.25
        self.u = nn.Parameter(torch.empty(spec.out_features, rank).uniform_(-1, 1) * scale
                              * math.sqrt(3))
        self.v = nn.Parameter(torch.empty(rank, spec.fan_in).uniform_(-1, 1) * scale
                              * math.sqrt(3))

    def matrix(self) -> torch.Tensor:
        return self.u @ self.v


class SparseLayer(_MatrixLayer):
    """Weight with `count` nonzero entries at fixed random positions (drawn from `seed`),
    the only ones stored and trained; initialised like the dense layer."""

    def __init__(self, spec: LayerSpec, count: int, seed: int) -> None:
        super().__init__(spec)
        gen = torch.Generator().manual_seed(seed)
        positions = torch.randperm(spec.weights, generator=gen)[:count].sort().values
        self.register_buffer("positions", positions, persistent=False)
        bound = 1 / math.sqrt(spec.fan_in)
        self.values = nn.Parameter(torch.empty(count).uniform_(-bound, bound))

    def matrix(self) -> torch.Tensor:
        flat = self.values.new_zeros(self.spec.weights).index_put((self.positions,), self.values)
        return flat.view(self.spec.out_features, self.spec.fan_in)


def baseline_layers(model: str, layers: list[LayerSpec], compression: float,
                    mask_seed: int = 0) -> list[nn.Module]:
    """The modules of baseline `model` (lrd | rer) for `layers` at `compression`."""
    if model == "lrd":
        return [nn.Linear(s.in_features, s.out_features) if r is None else LowRankLayer(s, r)
                for s, r in zip(layers, lrd_ranks(layers, compression), strict=True)]
    counts = rer_counts(layers, compression)
    return [SparseLayer(s, c, mask_seed + k) for k, (s, c) in enumerate(zip(layers, counts,
                                                                              strict=True))]
