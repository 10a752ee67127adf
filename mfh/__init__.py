"""mfh: compressing neural networks by hashing (HashedNets and multi-hash functional hashing).

The method is `mfh.method` (no config system); `mfh.harness` trains and records runs from
Hydra configs, `mfh.report` turns records into tables and figures, `mfh.data` and `mfh.cost`
hold the datasets and the compute-cost benchmark.
"""

from mfh.method import (
    CompressionSpace,
    HashedConv2d,
    HashedLinear,
    HashingSpec,
    LayerSpec,
    Reconstruction,
    weight_layers,
)

__all__ = ["CompressionSpace", "HashedConv2d", "HashedLinear", "HashingSpec", "LayerSpec",
           "Reconstruction", "weight_layers"]
