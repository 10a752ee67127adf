"""Model builder: the MLPs and the CNN, dense or with hashed layers.

`build_model(cfg, in_shape, num_classes)` returns an nn.Sequential. The weight layers come from
`layer_specs` (shapes only) and `weight_layers` (dense, HashedNets or MFH modules).
"""

from __future__ import annotations

import math

from omegaconf import DictConfig
from torch import nn

from mfh.method.budget import Budget, LayerSpec, plan_budget
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.reconstruction import Reconstruction, g_param_bounds, g_widths
from mfh.method.space import CompressionSpace
from mfh.method.virtual import FunctionalWeight, HashedNetsWeight, HashPairs


def layer_specs(arch: DictConfig, in_shape: tuple[int, int, int],
                num_classes: int) -> list[LayerSpec]:
    """Weight-layer shapes of `arch` (mlp3, mlp5, cnn) on inputs of shape (C, H, W)."""
    channels, height, width = in_shape
    specs = []
    for out, kernel, padding in arch.get("conv", []):
        specs.append(LayerSpec("conv", channels, out, (kernel, kernel), 1, padding))
        channels = out
        height = (height + 2 * padding - kernel + 1) // 2
        width = (width + 2 * padding - kernel + 1) // 2
    features = channels * height * width
    for hidden in [*arch.hidden, num_classes]:
        specs.append(LayerSpec("linear", features, hidden))
        features = hidden
    return specs


def model_budget(cfg: DictConfig, specs: list[LayerSpec]) -> Budget:
    """The compression budget of a hashed model configuration."""
    m = cfg.model
    return plan_budget(specs, cfg.compression, cfg.hashes, m.g_layers, m.g_bias, m.space,
                       m.g_scope, m.dual, m.dual_share, m.hash_bias)


def weight_layers(cfg: DictConfig, specs: list[LayerSpec]) -> list[nn.Module]:
    """One module per spec: nn.Linear / nn.Conv2d for dense, hashed layers otherwise."""
    if cfg.model.name == "dense":
        return [nn.Linear(s.in_features, s.out_features) if s.kind == "linear" else
                nn.Conv2d(s.in_features, s.out_features, s.kernel, s.stride, s.padding)
                for s in specs]
    return _hashed_layers(cfg, specs, model_budget(cfg, specs))


def _hashed_layers(cfg: DictConfig, specs: list[LayerSpec], budget: Budget) -> list[nn.Module]:
    """Hashed layers reading from the spaces of `budget`; parameters are created in layer order."""
    m, hashes = cfg.model, cfg.hashes
    extra = int(m.hash_bias)
    fan_max = max(s.fan_in + extra for s in specs)
    widths = g_widths(hashes, m.g_layers)
    shared = m.space == "shared"
    space = CompressionSpace(budget.space_sizes[0], 1 / math.sqrt(fan_max)) if shared else None
    dual_space = CompressionSpace(budget.dual_sizes[0], 1.0) if shared and m.dual else None
    has_g = m.g_layers > 1 and not m.dual
    global_g = Reconstruction(widths, m.g_bias) if has_g and m.g_scope == "global" else None
    layers: list[nn.Module] = []
    for index, spec in enumerate(specs):
        cols = spec.fan_in + extra
        layer_space = space or CompressionSpace(budget.space_sizes[index], 1 / math.sqrt(cols))
        pairs = HashPairs(index, hashes, spec.out_features, cols, layer_space.size, m.hash_seed,
                          mode=m.index_mode)
        if m.name == "hashednets":
            source: nn.Module = HashedNetsWeight(layer_space, pairs)
        else:
            dual = None
            if m.dual:
                layer_dual = dual_space or CompressionSpace(budget.dual_sizes[index], 1.0)
                bounds = g_param_bounds(widths, 1 / math.sqrt(cols) if m.g_bias else None)
                dual_pairs = HashPairs(index, len(bounds), spec.out_features, cols,
                                       layer_dual.size, m.hash_seed, dual=True, mode=m.index_mode)
                dual = (layer_dual, dual_pairs, bounds, widths, m.g_bias)
            g = (global_g or Reconstruction(widths, m.g_bias)) if has_g else None
            scale = math.sqrt(fan_max / cols) if shared and m.layer_scale == "fan_in" else 1.0
            source = FunctionalWeight(layer_space, pairs, g, scale, dual)
        if spec.kind == "linear":
            layers.append(HashedLinear(spec.in_features, spec.out_features, source, m.hash_bias))
        else:
            layers.append(HashedConv2d(spec.in_features, spec.out_features, spec.kernel, source,
                                       spec.stride, spec.padding, m.hash_bias))
    return layers


def build_model(cfg: DictConfig, in_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """The network of `cfg.arch` with `cfg.model`'s layers, for inputs (N, C, H, W)."""
    arch = cfg.arch
    specs = layer_specs(arch, in_shape, num_classes)
    weights = weight_layers(cfg, specs)
    modules: list[nn.Module] = []
    for spec, layer in zip(specs, weights, strict=True):
        if spec.kind == "conv":
            modules += [layer, nn.ReLU(), nn.MaxPool2d(2)]
            continue
        if not any(isinstance(mod, nn.Flatten) for mod in modules):
            modules += [nn.Flatten(), nn.Dropout(arch.dropout_input)]
        modules.append(layer)
        if layer is not weights[-1]:
            modules += [nn.ReLU(), nn.Dropout(arch.dropout_hidden)]
    return nn.Sequential(*modules)


def count_parameters(model: nn.Module) -> int:
    """Stored parameters: every distinct parameter tensor counted once (shared spaces once)."""
    return sum(p.numel() for p in model.parameters())
