"""mfh: compressing neural networks by hashing (HashedNets and multi-hash functional hashing).

The method is `mfh.method` (no config system); `mfh.harness` trains and records runs from
Hydra configs, `mfh.report` turns records into tables and figures, `mfh.data` and `mfh.cost`
hold the datasets and the compute-cost benchmark. The public API below is imported on first
use, so that `mfh.numerics` can pin the numerics before torch starts.
"""

import importlib

__all__ = ["CompressionSpace", "HashedConv2d", "HashedLinear", "HashingSpec", "LayerSpec",
           "Reconstruction", "weight_layers"]


def __getattr__(name: str) -> object:
    if name in __all__:
        return getattr(importlib.import_module("mfh.method"), name)
    raise AttributeError(f"module 'mfh' has no attribute {name!r}")
