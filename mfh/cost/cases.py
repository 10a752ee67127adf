"""What the cost benchmark measures: the model rows and the layer cases, built by the harness.

Every layer is taken from a network built by `mfh.harness.models.build_model` from composed configs,
so it is exactly the layer a training run uses (same budget, spaces, g, hashes, scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mfh.harness.config import compose_config
from mfh.harness.models import model_from_config
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.specs import format_label
from mfh.method.virtual import FunctionalWeight, HashedNetsWeight, HashPairs

COMPRESSION = 0.125
MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, HashedLinear, HashedConv2d)


@dataclass(frozen=True)
class ModelSpec:
    """One row of the cost tables: a configuration label and how to build it.

    `backend`: `auto` (fused kernels where they build) or `reference` (pure PyTorch).
    `naive`: HashedNets with the virtual weight built as `w[idx] * sign` (see NaiveWeight).
    """

    label: str
    overrides: tuple[str, ...]
    backend: str = "auto"
    naive: bool = False


def mfh_spec(hashes: int, g_layers: int, dual: bool = False) -> ModelSpec:
    """`U<hashes>-G<g_layers>[-D]` with the harness defaults (shared space, global g)."""
    label = format_label("mfh", hashes, g_layers, dual)
    overrides = ("model=mfh", f"hashes={hashes}", f"model.g_layers={g_layers}",
                 f"model.dual={str(dual).lower()}")
    return ModelSpec(label, overrides)


DENSE = ModelSpec("dense", ("model=dense",))
HASHEDNETS = ModelSpec("HashedNets", ("model=hashednets",))
NAIVE = ModelSpec("naive", ("model=hashednets",), naive=True)


def grid_models() -> list[ModelSpec]:
    """dense, naive, HashedNets, U1..U16 x G2..G4, and -D at U2..U8 (G3) and U4 (G2, G4)."""
    grid = [mfh_spec(u, g) for u in (1, 2, 4, 8, 16) for g in (2, 3, 4)]
    dual = [mfh_spec(u, 3, True) for u in (2, 4, 8)] + [mfh_spec(4, g, True) for g in (2, 4)]
    return [DENSE, NAIVE, HASHEDNETS, *grid, *sorted(dual, key=lambda m: m.label)]


def variant(spec: ModelSpec, kind: str) -> ModelSpec:
    """`spec` with recomputed hash indices (`recomputed`) or the pure-PyTorch path (`reference`)."""
    if kind == "recomputed":
        return ModelSpec(f"{spec.label} [recomputed]",
                         (*spec.overrides, "model.index_mode=recomputed"))
    return ModelSpec(f"{spec.label} [reference]", spec.overrides, backend="reference")


def variant_models() -> list[ModelSpec]:
    """The hashing-cost and implementation variants of HashedNets, U4-G3 and U4-G3-D."""
    base = [HASHEDNETS, mfh_spec(4, 3), mfh_spec(4, 3, True)]
    return [variant(m, kind) for kind in ("recomputed", "reference") for m in base]


def quick_models() -> list[ModelSpec]:
    return [DENSE, NAIVE, HASHEDNETS, mfh_spec(4, 3), mfh_spec(4, 3, True)]


@dataclass(frozen=True)
class Case:
    """A layer (or the whole network) to time: `layer` indexes the weight layers of `arch`.

    `input_shape`: one example's input to that module; `positions`: output positions per
    example (H' x W' for a conv layer, 1 for a linear layer).
    """

    name: str
    title: str
    arch: str
    in_shape: tuple[int, int, int]
    layer: int | None
    input_shape: tuple[int, ...]
    positions: int = 1


CASES = {
    "fc1": Case("fc1", "fc 784->1000 (3-layer net)", "mlp3", MNIST_SHAPE, 0, (784,)),
    "fc2": Case("fc2", "fc 1000->10 (3-layer net)", "mlp3", MNIST_SHAPE, 1, (1000,)),
    "conv": Case("conv", "conv 64->128 5x5 pad 2 on 16x16 (CNN)", "cnn", CIFAR_SHAPE, 1,
                 (64, 16, 16), positions=16 * 16),
    "mlp3": Case("mlp3", "3-layer net 784-1000-10", "mlp3", MNIST_SHAPE, None, MNIST_SHAPE),
}


class NaiveWeight(nn.Module):
    """HashedNets' virtual weight as most public ports write it: `w[idx] * sign`.

    Advanced indexing with int64 indices; autograd's backward is an index_put with
    accumulation (sort + reduce on the CPU). Same values as HashedNetsWeight.
    """

    def __init__(self, source: HashedNetsWeight) -> None:
        super().__init__()
        pairs = source.hashes
        index, sign = pairs()
        self.space = source.space
        self.register_buffer("index", index[0].long().view(pairs.rows, pairs.cols))
        self.register_buffer("sign", sign[0].view(pairs.rows, pairs.cols))

    def forward(self) -> torch.Tensor:
        return self.space.w[self.index] * self.sign


def weight_layers(module: nn.Module) -> list[nn.Module]:
    """The weight layers of a network (an nn.Sequential) in order, or [module] for a layer;
    not the layers inside g."""
    children = list(module) if isinstance(module, nn.Sequential) else [module]
    return [m for m in children if isinstance(m, WEIGHT_LAYERS)]


def _precompute(layer: nn.Module) -> None:
    """Give `layer` precomputed hash codes (the network was built with recomputed ones)."""
    for parent in list(layer.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, HashPairs) and child.mode == "recomputed":
                setattr(parent, name, HashPairs(child.layer, child.slots, child.rows, child.cols,
                                                child.buckets, int(child.seed), child.dual))


def build(case: Case, spec: ModelSpec, seed: int = 0) -> nn.Module:
    """The module of `case` for configuration `spec`: one layer, or the whole network.

    A single layer of a big network (the CNN) is taken from a network built with recomputed
    indices and then given precomputed ones, so that the other layers' indices are never
    stored; the layer is the same as in a network built with precomputed indices.
    """
    overrides = [*spec.overrides, f"arch={case.arch}", f"compression={COMPRESSION}"]
    one_layer = case.layer is not None and spec.label != "dense"
    recomputed = "model.index_mode=recomputed" in spec.overrides
    if one_layer and not recomputed:
        overrides.append("model.index_mode=recomputed")
    torch.manual_seed(seed)
    model = model_from_config(compose_config(overrides), case.in_shape, NUM_CLASSES)
    module = model if case.layer is None else weight_layers(model)[case.layer]
    if one_layer and not recomputed:
        _precompute(module)
    if spec.naive:
        for layer in weight_layers(module):
            layer.source = NaiveWeight(layer.source)
    return module


def hashed_sources(module: nn.Module) -> list[nn.Module]:
    """The virtual-weight modules of a network or layer (empty for dense)."""
    kinds = (HashedNetsWeight, FunctionalWeight, NaiveWeight)
    return [m.source for m in weight_layers(module) if isinstance(getattr(m, "source", None),
                                                                 kinds)]


@dataclass
class Inputs:
    """A batch for a case: x, and what the loss compares the output with."""

    x: torch.Tensor
    target: torch.Tensor


def make_inputs(case: Case, module: nn.Module, batch: int, seed: int = 0) -> Inputs:
    """Random inputs: images in [0, 1) and labels for the network, N(0, 1) for a layer; the
    layer's target is a fixed random output gradient."""
    gen = torch.Generator().manual_seed(seed)
    if case.layer is None:
        x = torch.rand(batch, *case.input_shape, generator=gen)
        return Inputs(x, torch.randint(0, NUM_CLASSES, (batch,), generator=gen))
    x = torch.randn(batch, *case.input_shape, generator=gen)
    with torch.no_grad():
        shape = module(x[:1]).shape[1:]
    return Inputs(x, torch.randn(batch, *shape, generator=gen))


def loss(case: Case, output: torch.Tensor, inputs: Inputs) -> torch.Tensor:
    """Cross-entropy for the network; <output, target> for a layer (its gradient is target)."""
    if case.layer is None:
        return nn.functional.cross_entropy(output, inputs.target)
    return (output * inputs.target).sum()
