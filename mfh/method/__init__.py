"""The hashed-layer library: hashing, compression spaces, g, virtual weights, hashed layers.

No config system is needed: build a `HashingSpec` and the layer shapes (`LayerSpec`), and
`weight_layers` returns the modules; or assemble `CompressionSpace`, `HashPairs`,
`Reconstruction` and a virtual weight into a `HashedLinear` / `HashedConv2d` by hand.
"""

from mfh.method.budget import Budget, BudgetError, LayerSpec, plan_budget
from mfh.method.build import hashed_layers, weight_layers
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.reconstruction import Reconstruction
from mfh.method.space import CompressionSpace
from mfh.method.specs import HashingSpec, format_label, parse_label
from mfh.method.virtual import DualHashing, FunctionalWeight, HashedNetsWeight, HashPairs

__all__ = ["Budget", "BudgetError", "CompressionSpace", "DualHashing", "FunctionalWeight",
           "HashPairs", "HashedConv2d", "HashedLinear", "HashedNetsWeight", "HashingSpec",
           "LayerSpec", "Reconstruction", "format_label", "hashed_layers", "parse_label",
           "plan_budget", "weight_layers"]
