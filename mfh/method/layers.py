"""Hashed layers with the semantics of nn.Linear and nn.Conv2d (groups = 1).

The weight is a virtual matrix (out, in*kh*kw) produced by a virtual-weight module
(`mfh.method.virtual`). The bias is either an ordinary parameter (stored unhashed) or, with
`hash_bias`, the last column of the virtual matrix.

Inference cache: in eval mode with gradients disabled (`model.eval()` under `torch.no_grad()` or
`torch.inference_mode()`), a layer rebuilds its virtual weight only when a parameter or buffer
it reads has changed (in-place update, replacement, device or dtype move), and otherwise reuses
the last one, so inference costs what a dense layer costs. `train()` drops the cache; so does
any call with gradients enabled, which always rebuilds (the graph must reach w and g).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

CacheKey = tuple[tuple[int, int, torch.dtype, torch.device], ...]


class _HashedLayer(nn.Module):
    """Shared part of the hashed layers: virtual weight and bias, and the inference cache."""

    def __init__(self, out_features: int, fan_in: int, source: nn.Module,
                 hash_bias: bool) -> None:
        super().__init__()
        self.out_features, self.fan_in = out_features, fan_in
        self.source, self.hash_bias = source, hash_bias
        if hash_bias:
            self.register_parameter("bias", None)
        else:
            bound = 1 / math.sqrt(fan_in)
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self._cache: tuple[CacheKey, torch.Tensor, torch.Tensor] | None = None

    def weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The virtual weight (out, fan_in) and the bias (out,); cached for inference."""
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self._build()
        key = self._cache_key()
        if self._cache is None or self._cache[0] != key:
            weight, bias = self._build()
            self._cache = (key, weight.contiguous(), bias.contiguous())
        return self._cache[1], self._cache[2]

    def _build(self) -> tuple[torch.Tensor, torch.Tensor]:
        matrix = self.source()
        if self.hash_bias:
            return matrix[:, :-1], matrix[:, -1]
        return matrix, self.bias

    def _cache_key(self) -> CacheKey:
        """Storage, version counter, dtype and device of every tensor the weight reads.

        In-place updates (optimizer steps, `load_state_dict`, `copy_` under no_grad) bump the
        version counter; writes through `.data` do not, and are not seen.
        """
        return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in _tensors_of(self, [])
                     if t is not None)

    def train(self, mode: bool = True) -> _HashedLayer:
        self._cache = None
        return super().train(mode)


def _tensors_of(module: nn.Module, out: list) -> list:
    """`out` extended with the parameters and buffers (None included) of `module` and its
    submodules, depth first: what `module.modules()` reaches, in half the time (this runs on
    every cached inference call)."""
    out.extend(module._parameters.values())
    out.extend(module._buffers.values())
    for child in module._modules.values():
        if child is not None:
            _tensors_of(child, out)
    return out


class HashedLinear(_HashedLayer):
    """nn.Linear(in_features, out_features) whose weight is virtual. x: (N, in) -> (N, out)."""

    def __init__(self, in_features: int, out_features: int, source: nn.Module,
                 hash_bias: bool = False) -> None:
        super().__init__(out_features, in_features, source, hash_bias)
        self.in_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight_and_bias()
        return F.linear(x, weight, bias)


class HashedConv2d(_HashedLayer):
    """nn.Conv2d (groups = 1) whose kernel is virtual, flattened to out x (in*kh*kw).

    x: (N, in, H, W) -> (N, out, H', W').
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 source: nn.Module, stride: int = 1, padding: int = 0,
                 hash_bias: bool = False) -> None:
        super().__init__(out_channels, in_channels * kernel_size[0] * kernel_size[1], source,
                         hash_bias)
        self.in_channels, self.kernel_size = in_channels, kernel_size
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight_and_bias()
        kernel = weight.reshape(self.out_features, self.in_channels, *self.kernel_size)
        return F.conv2d(x, kernel, bias, stride=self.stride, padding=self.padding)
