"""Datasets: every set the papers use, built offline from data on this machine.

`load_splits(cfg)` returns `Splits` (train / valid / test `Split`s of (N, C, H, W) float32
images in [0, 1] and (N,) int64 labels). See docs/datasets.md for how each set is made.
"""

from mfh.data.load import LOADERS, load_splits
from mfh.data.splits import DatasetUnavailable, Split, Splits

__all__ = ["LOADERS", "DatasetUnavailable", "Split", "Splits", "load_splits"]
