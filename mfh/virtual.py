"""Virtual weights: full-size weight matrices rebuilt from compression spaces through hashes.

Each module here has no input: calling it returns the virtual matrix (rows, cols) of one layer,
rows = out features, cols = in*kh*kw (+1 when the bias is hashed as an extra column).
"""

from __future__ import annotations

import torch
from torch import nn

from mfh.hashing import bucket_and_sign
from mfh.reconstruction import Reconstruction, per_weight_g
from mfh.space import CompressionSpace


class HashPairs(nn.Module):
    """The (bucket, sign) hash pairs of one layer: `slots` pairs for each of rows x cols keys.

    The hash seed is a buffer in the state_dict, so a reloaded model hashes exactly as the saved
    one did. `mode="precomputed"` keeps int32 indices and float32 signs in memory (fast);
    `mode="recomputed"` hashes again at every call (no index memory).
    Calling it returns `(index, sign)`, both (slots, rows * cols).
    """

    def __init__(self, layer: int, slots: int, rows: int, cols: int, buckets: int, seed: int,
                 dual: bool = False, mode: str = "precomputed") -> None:
        super().__init__()
        if mode not in ("precomputed", "recomputed"):
            raise ValueError(f"index mode must be precomputed or recomputed, got {mode!r}")
        self.layer, self.slots, self.rows, self.cols = layer, slots, rows, cols
        self.buckets, self.dual, self.mode = buckets, dual, mode
        self.register_buffer("seed", torch.tensor(seed, dtype=torch.int64))
        if mode == "precomputed":
            index, sign = self._hash("cpu")
            self.register_buffer("index", index, persistent=False)
            self.register_buffer("sign", sign, persistent=False)

    def _hash(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        return bucket_and_sign(self.layer, self.slots, self.rows, self.cols, self.buckets,
                               int(self.seed), dual=self.dual, device=device)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "precomputed":
            return self.index, self.sign
        return self._hash(self.seed.device)


def gather(space: CompressionSpace, index: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """sign * w[index] for (slots, n) indices; backward is an index_add into w (deterministic)."""
    return space.w.index_select(0, index.reshape(-1)).view_as(sign) * sign


class HashedNetsWeight(nn.Module):
    """HashedNets' virtual weight V_ij = xi(i, j) * w[h(i, j)], one hash pair, one space."""

    def __init__(self, space: CompressionSpace, hashes: HashPairs) -> None:
        super().__init__()
        self.space, self.hashes = space, hashes

    def forward(self) -> torch.Tensor:
        index, sign = self.hashes()
        return gather(self.space, index, sign)[0].view(self.hashes.rows, self.hashes.cols)


class FunctionalWeight(nn.Module):
    """MFH's virtual weight V_ij = s * g(xi_1 w[h_1], ..., xi_U w[h_U]).

    `g=None` is the identity (U = 1). With `dual` (a second space w' and its hash pairs, one
    slot per parameter of g), g's parameters are hashed per virtual weight:
    alpha_ij[r] = b_r * xi'_r(i, j) * w'[h'_r(i, j)], w' ~ U(-1, 1) and b_r the fixed init bound of
    slot r (`g_param_bounds`).
    `scale` s is the fixed per-layer scale that lets layers of different fan-in share one w.
    """

    def __init__(self, space: CompressionSpace, hashes: HashPairs, g: Reconstruction | None,
                 scale: float = 1.0, dual: tuple[CompressionSpace, HashPairs, torch.Tensor,
                                                 list[int], bool] | None = None) -> None:
        super().__init__()
        self.space, self.hashes, self.g, self.scale = space, hashes, g, scale
        self.dual_space = self.dual_hashes = None
        if dual is not None:
            self.dual_space, self.dual_hashes, bounds, self.widths, self.g_bias = dual
            self.register_buffer("dual_bounds", bounds.unsqueeze(1), persistent=False)

    def forward(self) -> torch.Tensor:
        z = gather(self.space, *self.hashes())
        if self.dual_space is not None:
            alpha = gather(self.dual_space, *self.dual_hashes()) * self.dual_bounds
            v = per_weight_g(z, alpha, self.widths, self.g_bias)
        elif self.g is not None:
            v = self.g(z)
        else:
            v = z[0]
        if self.scale != 1.0:
            v = v * self.scale
        return v.view(self.hashes.rows, self.hashes.cols)
