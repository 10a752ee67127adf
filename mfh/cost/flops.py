"""FLOPs of dense and hashed layers, counted analytically; checked with torch's flop counter.

Counted (1 multiply-add = 2 FLOPs):
- matrix product of each weight layer: 2 * B * P * out * fan_in forward (P = output positions:
  H' x W' for a conv layer, 1 for a linear layer); the backward twice that (weight and input
  gradients), or once for a layer whose input needs no gradient (the first layer; a single
  layer timed on its own);
- reconstruction, per virtual weight (independent of B): the sign flips of the U (+ R for -D)
  hashed values, the bounds of -D, g's multiply-adds (and biases), the scale; backward: g's
  parameter and input gradients, tanh' (3 per hidden unit), flips and the scatter-adds into w;
- optimizer (step only): SGD with momentum, 4 per stored parameter.
Listed apart: `gathers` (hashed values read forward and scatter-added backward) and `tanh`
(evaluations). Not counted: bias adds, activations, dropout, pooling, the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mfh.cost.cases import NaiveWeight, weight_layers
from mfh.method import kernels as native
from mfh.method.virtual import FunctionalWeight


@dataclass(frozen=True)
class LayerShape:
    """A weight layer's matrix product and, if hashed, its reconstruction.

    `n`: virtual weights (rows x cols); `slots`/`dual_slots`: U and R; `widths`: g's widths,
    `(1,)` for the identity; `g_mm`: whether g runs as matrix products (a global g; the
    counter sees those), `per_weight`: g's parameters differ per weight (-D).
    """

    rows: int
    fan_in: int
    positions: int
    input_grad: bool
    n: int = 0
    slots: int = 0
    dual_slots: int = 0
    widths: tuple[int, ...] = (1,)
    bias: bool = False
    scaled: bool = False
    g_mm: bool = False

    @property
    def pairs(self) -> int:
        return self.slots + self.dual_slots

    def g_pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.widths[:-1], self.widths[1:], strict=True))

    def hidden(self) -> int:
        return sum(self.widths[1:-1])


@dataclass(frozen=True)
class Flops:
    """FLOPs of one pass (`forward`) or one training step (`step`) of a module."""

    matmul: int
    reconstruction: int
    optimizer: int
    gathers: int
    tanh: int

    @property
    def total(self) -> int:
        return self.matmul + self.reconstruction + self.optimizer


def layer_shapes(module: nn.Module, x1: torch.Tensor, network: bool) -> list[LayerShape]:
    """Shapes of the weight layers of `module`, from one forward on x1 (a batch of one).

    `network`: the module is a whole network (every layer but the first needs input grads).
    """
    outputs: dict[nn.Module, torch.Size] = {}
    layers = weight_layers(module)
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.shape))
             for m in layers]
    with torch.no_grad():
        module(x1)
    for hook in hooks:
        hook.remove()
    shapes = []
    for k, layer in enumerate(layers):
        out = outputs[layer]
        positions = out[2] * out[3] if len(out) == 4 else 1
        rows = out[1]
        fan_in = (layer.fan_in if hasattr(layer, "fan_in")
                  else layer.weight[0].numel())
        shapes.append(_hashed_shape(layer, rows, fan_in, positions, network and k > 0))
    return shapes


def _hashed_shape(layer: nn.Module, rows: int, fan_in: int, positions: int,
                  input_grad: bool) -> LayerShape:
    source = getattr(layer, "source", None)
    base = dict(rows=rows, fan_in=fan_in, positions=positions, input_grad=input_grad)
    if source is None:
        return LayerShape(**base)
    if isinstance(source, NaiveWeight):
        return LayerShape(**base, n=source.index.numel(), slots=1)
    pairs = source.hashes
    n = pairs.rows * pairs.cols
    if not isinstance(source, FunctionalWeight):
        return LayerShape(**base, n=n, slots=1)
    scaled = source.scale != 1.0
    if source.dual_space is not None:
        return LayerShape(**base, n=n, slots=pairs.slots, dual_slots=source.dual_hashes.slots,
                          widths=tuple(source.widths), bias=source.g_bias, scaled=scaled)
    if source.g is None:
        return LayerShape(**base, n=n, slots=pairs.slots, scaled=scaled)
    return LayerShape(**base, n=n, slots=pairs.slots, widths=tuple(source.g.widths),
                      bias=source.g.layers[0].bias is not None, scaled=scaled, g_mm=True)


def reconstruction_forward(s: LayerShape) -> int:
    """Forward reconstruction FLOPs of one layer: flips, bounds, g, scale; n weights."""
    g = sum(2 * a * b + b * s.bias for a, b in s.g_pairs())
    return s.n * (s.pairs + s.dual_slots + g + s.scaled)


def reconstruction_backward(s: LayerShape) -> int:
    """Backward reconstruction FLOPs: g's gradients, tanh', flips, bounds, scatter-adds."""
    params = sum((a * b if s.dual_slots else 2 * a * b + b * s.bias) for a, b in s.g_pairs())
    inputs = sum(2 * a * b for a, b in s.g_pairs())
    return s.n * (params + inputs + 3 * s.hidden() + s.scaled + 2 * s.pairs + s.dual_slots)


def count(shapes: list[LayerShape], batch: int, stored: int, step: bool) -> Flops:
    """FLOPs of a forward (`step=False`) or a training step at batch size `batch`.

    `stored`: parameters the optimizer updates.
    """
    matmul = recon = gathers = tanh = 0
    for s in shapes:
        product = 2 * batch * s.positions * s.rows * s.fan_in
        matmul += product * (1 + (1 + s.input_grad) * step)
        recon += reconstruction_forward(s) + step * reconstruction_backward(s)
        gathers += s.n * s.pairs * (1 + step)
        tanh += s.n * s.hidden()
    return Flops(matmul, recon, 4 * stored * step, gathers, tanh)


def counted_by_torch(shapes: list[LayerShape], batch: int) -> int:
    """The part of the forward FLOPs that torch's counter sees on the reference path: the
    matrix products of the layers and of a global g (-D's g and the gathers are elementwise)."""
    total = 0
    for s in shapes:
        total += 2 * batch * s.positions * s.rows * s.fan_in
        if s.g_mm:
            total += s.n * sum(2 * a * b for a, b in s.g_pairs())
    return total


def torch_count(module: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward counted by torch.utils.flop_counter, on the reference path."""
    counter = FlopCounterMode(display=False)
    with native.use_backend("reference"), counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()
