"""Layer shapes and the compression budget: how many values each space gets.

The compression ratio is stored / virtual parameters. Virtual parameters are the dense
network's weights and biases. Stored parameters are everything needed to rebuild the model:
w, w' (dual), g's parameters and the unhashed biases. K is chosen so that the stored count equals
round(compression * virtual), so the realised ratio matches the nominal one to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfh.method.reconstruction import g_param_count, g_widths
from mfh.method.specs import HashingSpec


class BudgetError(ValueError):
    """A compression ratio too small for what must be stored (biases, g, one value per space)."""


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer: `linear` (kernel (1, 1)) or `conv` (groups = 1)."""

    kind: str
    in_features: int
    out_features: int
    kernel: tuple[int, int] = (1, 1)
    stride: int = 1
    padding: int = 0

    @property
    def fan_in(self) -> int:
        return self.in_features * self.kernel[0] * self.kernel[1]

    @property
    def weights(self) -> int:
        return self.out_features * self.fan_in

    @property
    def virtual(self) -> int:
        """Dense parameter count: weights and biases."""
        return self.weights + self.out_features


@dataclass(frozen=True)
class Budget:
    """Sizes of every stored part of a hashed network.

    `space_sizes` / `dual_sizes`: one entry for a shared space, one per layer otherwise
    (`dual_sizes` is empty without -D). `g_params`: parameters of all g networks (with two
    hops, the second g's too). `hop_size`: with two hops, the size of the virtual first-hop
    space the layers hash into (rebuilt from the stored `space_sizes[0]`); 0 otherwise.
    """

    virtual: int
    space_sizes: tuple[int, ...]
    dual_sizes: tuple[int, ...]
    g_params: int
    bias_params: int
    hop_size: int = 0

    @property
    def stored(self) -> int:
        return sum(self.space_sizes) + sum(self.dual_sizes) + self.g_params + self.bias_params

    @property
    def ratio(self) -> float:
        return self.stored / self.virtual


def split_proportionally(total: int, weights: list[int]) -> list[int]:
    """Integers summing to `total`, proportional to `weights` (largest remainder)."""
    exact = [total * w / sum(weights) for w in weights]
    parts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda k: parts[k] - exact[k])
    for k in order[: total - sum(parts)]:
        parts[k] += 1
    return parts


def plan_budget(specs: list[LayerSpec], hashing: HashingSpec) -> Budget:
    """Choose K (and K' for -D) so that stored / virtual = compression, to rounding.

    A per-layer space gets a share of K proportional to the values it hashes, so every layer is
    compressed by about the same factor, as in HashedNets. Raises BudgetError when the ratio
    leaves no room for the spaces.
    """
    compression, hash_bias, dual = hashing.compression, hashing.hash_bias, hashing.dual
    virtual = sum(s.virtual for s in specs)
    target = round(compression * virtual)
    bias_params = 0 if hash_bias else sum(s.out_features for s in specs)
    g_count = g_param_count(g_widths(hashing.hashes, hashing.g_layers), hashing.g_bias)
    g_params = g_count * (len(specs) if hashing.g_scope == "layer" else 1) if hashing.has_g else 0
    g_params += g_count if hashing.has_g and hashing.hops == 2 else 0   # the second hop's g
    budget = target - bias_params - g_params
    dual_total = round(hashing.dual_share * budget) if dual else 0
    space_total = budget - dual_total
    if space_total < len(specs) or (dual and dual_total < 1):
        raise BudgetError(
            f"compression={compression} leaves {budget} values for the compression space(s) "
            f"after {bias_params} biases and {g_params} parameters of g; raise compression"
            + ("" if hash_bias else " or set model.hash_bias=true")
        )
    hashed = [s.weights + (s.out_features if hash_bias else 0) for s in specs]
    if hashing.space == "shared":
        sizes, dual_sizes = (space_total,), ((dual_total,) if dual else ())
    else:
        sizes = tuple(split_proportionally(space_total, hashed))
        dual_sizes = tuple(split_proportionally(dual_total, hashed)) if dual else ()
    if min(sizes) < 1 or (dual and min(dual_sizes) < 1):
        raise BudgetError(f"compression={compression} leaves a layer with an empty space")
    hop_size = max(1, round(space_total / hashing.hop_ratio)) if hashing.hops == 2 else 0
    return Budget(virtual, sizes, dual_sizes, g_params, bias_params, hop_size)
