"""The containers every loader returns, and the deterministic split rules they share."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch

VALID_FRACTION = 0.2  # validation share of a training set that has no split of its own


class DatasetUnavailable(RuntimeError):
    """The files of a dataset are not on this machine; the message says where to put them."""


@dataclass(frozen=True)
class Split:
    """One part of a dataset: images `x` (N, C, H, W) float32 in [0, 1], labels `y` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError(f"bad split shapes x={tuple(self.x.shape)} y={tuple(self.y.shape)}")

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    """A dataset's fixed train / valid / test parts and its number of classes."""

    name: str
    train: Split
    valid: Split
    test: Split
    num_classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one image."""
        return tuple(self.train.x.shape[1:])


def rng(data_seed: int, purpose: str) -> np.random.Generator:
    """A numpy generator fixed by `data_seed` and a purpose string (independent streams)."""
    return np.random.default_rng([int(data_seed), zlib.crc32(purpose.encode())])


def to_split(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> Split:
    """A Split from images (N, H, W) or (N, C, H, W) already in [0, 1] and integer labels (N,)."""
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    return Split(x.contiguous(), torch.as_tensor(y, dtype=torch.int64).contiguous())


def holdout(n: int, data_seed: int, purpose: str,
            fraction: float = VALID_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, valid) into a training set of `n` examples: permute by `data_seed`;
    the last `round(fraction * n)` examples of the permutation are the validation set."""
    order = rng(data_seed, purpose).permutation(n)
    return order[: n - round(fraction * n)], order[n - round(fraction * n):]
