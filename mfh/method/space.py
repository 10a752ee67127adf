"""Compression spaces: the learnable vectors that virtual weights are read from."""

from __future__ import annotations

import torch
from torch import nn


class CompressionSpace(nn.Module):
    """A learnable vector `w` of `size` values, initialised U(-bound, bound).

    One space per layer (`space: per_layer`, HashedNets and FunHashNN) or one for the whole
    network (`space: shared`, HFH's homological space). A shared space is the same module object
    in every layer, so its parameter is counted and optimised once.
    """

    def __init__(self, size: int, bound: float) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"a compression space needs at least one value, got size={size}")
        self.w = nn.Parameter(torch.empty(size).uniform_(-bound, bound))

    @property
    def size(self) -> int:
        return self.w.numel()
