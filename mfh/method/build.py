"""A network's weight layers from a `HashingSpec` and the layer shapes.

`weight_layers(hashing, layers)` returns one module per `LayerSpec`, in order: nn.Linear /
nn.Conv2d for `dense` (and, at its narrower widths, for the equal-size `equal_nn`), the
low-rank or sparse layers of `lrd` / `rer` (`mfh.method.baselines`), HashedLinear /
HashedConv2d otherwise, reading from the spaces that `plan_budget` sizes. Parameters are
created in layer order, so one torch seed gives one model.
"""

from __future__ import annotations

import math

from torch import nn

from mfh.method.baselines import baseline_layers, equal_size_layers
from mfh.method.budget import Budget, LayerSpec, plan_budget
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.reconstruction import Reconstruction, g_param_bounds, g_widths
from mfh.method.space import CompressionSpace
from mfh.method.specs import HashingSpec
from mfh.method.virtual import (
    DualHashing,
    FunctionalWeight,
    HashedNetsWeight,
    HashPairs,
    VirtualSpace,
)


def weight_layers(hashing: HashingSpec, layers: list[LayerSpec]) -> list[nn.Module]:
    """One module per layer spec: dense layers, a baseline's, or hashed layers over one
    budget."""
    if hashing.model == "equal_nn":
        return dense_layers(equal_size_layers(layers, hashing.compression))
    if hashing.model == "dense":
        return dense_layers(layers)
    if hashing.model in ("lrd", "rer"):
        return baseline_layers(hashing.model, layers, hashing.compression, hashing.hash_seed)
    return hashed_layers(hashing, layers, plan_budget(layers, hashing))


def dense_layers(layers: list[LayerSpec]) -> list[nn.Module]:
    """nn.Linear / nn.Conv2d of the given shapes."""
    return [nn.Linear(s.in_features, s.out_features) if s.kind == "linear" else
            nn.Conv2d(s.in_features, s.out_features, s.kernel, s.stride, s.padding)
            for s in layers]


def hashed_layers(h: HashingSpec, layers: list[LayerSpec], budget: Budget) -> list[nn.Module]:
    """Hashed layers reading from the spaces of `budget` (HashedNets or MFH, by `h.model`)."""
    extra = int(h.hash_bias)
    fan_max = max(s.fan_in + extra for s in layers)
    widths = g_widths(h.hashes, h.g_layers)
    shared = h.space == "shared"
    space = CompressionSpace(budget.space_sizes[0], 1 / math.sqrt(fan_max)) if shared else None
    if space is not None and h.hops == 2:   # the layers hash into a virtual first-hop space
        hop = HashPairs(len(layers), h.hashes, 1, budget.hop_size, space.size, h.hash_seed,
                        mode=h.index_mode)
        g2 = Reconstruction(widths, h.g_bias, h.g_init) if h.has_g else None
        space = VirtualSpace(FunctionalWeight(space, hop, g2))
    dual_space = CompressionSpace(budget.dual_sizes[0], 1.0) if shared and h.dual else None
    global_g = (Reconstruction(widths, h.g_bias, h.g_init)
                if h.has_g and h.g_scope == "global" else None)
    modules: list[nn.Module] = []
    for index, spec in enumerate(layers):
        cols = spec.fan_in + extra
        layer_space = space or CompressionSpace(budget.space_sizes[index], 1 / math.sqrt(cols))
        pairs = HashPairs(index, h.hashes, spec.out_features, cols, layer_space.size, h.hash_seed,
                          mode=h.index_mode)
        if h.model == "hashednets":
            source: nn.Module = HashedNetsWeight(layer_space, pairs)
        else:
            dual = None
            if h.dual:
                layer_dual = dual_space or CompressionSpace(budget.dual_sizes[index], 1.0)
                bounds = g_param_bounds(widths, 1 / math.sqrt(cols) if h.g_bias else None)
                dual_pairs = HashPairs(index, len(bounds), spec.out_features, cols,
                                       layer_dual.size, h.hash_seed, dual=True, mode=h.index_mode)
                dual = DualHashing(layer_dual, dual_pairs, bounds, widths, h.g_bias)
            g = (global_g or Reconstruction(widths, h.g_bias, h.g_init)) if h.has_g else None
            scale = math.sqrt(fan_max / cols) if shared and h.layer_scale == "fan_in" else 1.0
            step = 1 / scale**2 if h.step_scale == "layer" else 1.0
            source = FunctionalWeight(layer_space, pairs, g, scale, dual, step)
        if spec.kind == "linear":
            modules.append(HashedLinear(spec.in_features, spec.out_features, source, h.hash_bias))
        else:
            modules.append(HashedConv2d(spec.in_features, spec.out_features, spec.kernel, source,
                                        spec.stride, spec.padding, h.hash_bias))
    return modules
