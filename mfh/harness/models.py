"""Model builder: the MLPs and the CNN, dense or with hashed layers.

`build_model(arch, hashing, in_shape, num_classes)` returns an nn.Sequential. The weight layers
come from `layer_specs` (shapes only) and `mfh.method.weight_layers` (dense, HashedNets or MFH
modules); the budget's own error becomes a ConfigError naming `compression`.
"""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from mfh.harness.config import ConfigError, model_specs
from mfh.harness.specs import ArchSpec
from mfh.method import BudgetError, HashingSpec, LayerSpec, weight_layers


def layer_specs(arch: ArchSpec, in_shape: tuple[int, int, int],
                num_classes: int) -> list[LayerSpec]:
    """Weight-layer shapes of `arch` (mlp3, mlp5, cnn) on inputs of shape (C, H, W)."""
    channels, height, width = in_shape
    specs = []
    for out, kernel, padding in arch.conv:
        specs.append(LayerSpec("conv", channels, out, (kernel, kernel), 1, padding))
        channels = out
        height = (height + 2 * padding - kernel + 1) // 2
        width = (width + 2 * padding - kernel + 1) // 2
    features = channels * height * width
    for hidden in [*arch.hidden, num_classes]:
        specs.append(LayerSpec("linear", features, hidden))
        features = hidden
    return specs


def build_model(arch: ArchSpec, hashing: HashingSpec, in_shape: tuple[int, int, int],
                num_classes: int) -> nn.Sequential:
    """The network `arch` with the weight layers of `hashing`, for inputs (N, C, H, W)."""
    specs = layer_specs(arch, in_shape, num_classes)
    try:
        weights = weight_layers(hashing, specs)
    except BudgetError as err:
        raise ConfigError(str(err)) from None
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


def model_from_config(cfg: DictConfig | dict, in_shape: tuple[int, int, int],
                      num_classes: int) -> nn.Sequential:
    """`build_model` of a composed (or resolved, plain) configuration's arch and model."""
    arch, hashing = model_specs(cfg)
    return build_model(arch, hashing, in_shape, num_classes)


def count_parameters(model: nn.Module) -> int:
    """Stored parameters: every distinct parameter tensor counted once (shared spaces once)."""
    return sum(p.numel() for p in model.parameters())
