"""Virtual weights: full-size weight matrices rebuilt from compression spaces through hashes.

Each module here has no input: calling it returns the virtual matrix (rows, cols) of one layer,
rows = out features, cols = in*kh*kw (+1 when the bias is hashed as an extra column).

Two implementations compute the same matrix: the fused kernels of `mfh.method.kernels` (CPU, float32
and float64, the default where they build) and the pure-PyTorch reference path (`_reference`
methods; any device). They agree to float rounding; HashedNets and MFH with U=1, identity g and
scale 1 take the same path in both, so they agree bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from mfh.method import kernels as native
from mfh.method.hashing import BUCKET, DUAL_BUCKET, DUAL_SIGN, SIGN, bucket_and_sign
from mfh.method.reconstruction import Reconstruction, per_weight_g
from mfh.method.space import CompressionSpace

SIGN_BIT = -(2**31)   # bit 31 of an int32 code: the sign hash is -1


def pack_codes(index: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """int32 codes: the bucket `index` in bits 0..30, bit 31 set where `sign` is -1."""
    return index.to(torch.int32) | torch.where(sign < 0, SIGN_BIT, 0).to(torch.int32)


def to_blocks(codes: torch.Tensor) -> torch.Tensor:
    """(slots, n) codes -> (ceil(n / LANES), slots, LANES), padded with code 0 (the kernels'
    layout: the codes of LANES consecutive virtual weights are adjacent, slot by slot)."""
    slots, n = codes.shape
    blocks = -(-n // native.LANES)
    padded = torch.nn.functional.pad(codes, (0, blocks * native.LANES - n))
    return padded.view(slots, blocks, native.LANES).transpose(0, 1).contiguous()


def from_blocks(blocks: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse of `to_blocks`: (slots, n) codes of the first n virtual weights."""
    return blocks.transpose(0, 1).reshape(blocks.shape[1], -1)[:, :n]


def unpack_codes(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int32 index, float32 sign in {-1, +1}) of int32 codes; the inverse of `pack_codes`."""
    index = codes & (2**31 - 1)
    sign = torch.where(codes < 0, -1.0, 1.0).to(torch.float32)
    return index, sign


class HashPairs(nn.Module):
    """The (bucket, sign) hash pairs of one layer: `slots` pairs for each of rows x cols keys.

    The hash seed is a buffer in the state_dict, so a reloaded model hashes exactly as the saved
    one did. `mode="precomputed"` keeps one int32 code per pair in memory (bucket and sign
    packed, `pack_codes`; 4 bytes per pair) in the kernels' block layout (`to_blocks`);
    `mode="recomputed"` hashes again at every call (no index memory). Calling it returns
    `(index, sign)`, both (slots, rows * cols).
    """

    def __init__(self, layer: int, slots: int, rows: int, cols: int, buckets: int, seed: int,
                 dual: bool = False, mode: str = "precomputed") -> None:
        super().__init__()
        if buckets >= 2**31:
            raise ValueError(f"at most 2**31 - 1 buckets, got {buckets}")
        self.layer, self.slots, self.rows, self.cols = layer, slots, rows, cols
        self.buckets, self.dual, self.mode = buckets, dual, mode
        self.seed_value = seed   # the seed as a Python int, for tracing without a host sync
        self.register_buffer("seed", torch.tensor(seed, dtype=torch.int64))
        self.register_load_state_dict_post_hook(_same_seed)
        if mode == "precomputed":
            self.register_buffer("codes", self._hash(torch.device("cpu")), persistent=False)

    def kernel_codes(self) -> native.Codes:
        """The codes for the native kernels: stored, or (recomputed) hashed inside them."""
        stored = self.codes if self.mode == "precomputed" else None
        return native.Codes(self.slots, self._key(), stored)

    def _key(self) -> native.Key:
        seed = self.seed_value
        bucket_role, sign_role = (DUAL_BUCKET, DUAL_SIGN) if self.dual else (BUCKET, SIGN)
        return (self.layer, self.rows, self.cols, self.buckets, seed + bucket_role,
                seed + sign_role)

    def _hash(self, device: torch.device) -> torch.Tensor:
        if device.type == "cpu" and native.backend() == "native":
            return native.hash_codes(self._key(), self.slots)
        index, sign = bucket_and_sign(self.layer, self.slots, self.rows, self.cols, self.buckets,
                                      self.seed_value, dual=self.dual, device=device)
        return to_blocks(pack_codes(index, sign))

    def packed(self) -> torch.Tensor:
        """int32 codes in blocks (`to_blocks`): the stored ones, or hashed now (`recomputed`)."""
        if self.mode == "precomputed":
            return self.codes
        return self._hash(self.seed.device)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return unpack_codes(from_blocks(self.packed(), self.rows * self.cols).contiguous())


def _same_seed(module: HashPairs, incompatible_keys: object) -> None:
    """Refuse a state_dict whose hash seed differs from the one the codes were made with."""
    if int(module.seed) != module.seed_value:
        raise ValueError(f"hash seed {int(module.seed)} in the state_dict differs from "
                         f"{module.seed_value}, the seed this layer was built with")


def gather(w: torch.Tensor, index: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """sign * w[index] for (slots, n) indices; backward is an index_add into w (deterministic)."""
    return w.index_select(0, index.reshape(-1)).view_as(sign) * sign


class HashedNetsWeight(nn.Module):
    """HashedNets' virtual weight V_ij = xi(i, j) * w[h(i, j)], one hash pair, one space."""

    def __init__(self, space: CompressionSpace, hashes: HashPairs) -> None:
        super().__init__()
        if hashes.slots != 1:
            raise ValueError(f"HashedNets reads one hash per virtual weight, got a HashPairs "
                             f"of {hashes.slots}; use FunctionalWeight (MFH) for several")
        self.space, self.hashes = space, hashes

    def forward(self) -> torch.Tensor:
        pairs = self.hashes
        if native.supports(self.space.w):
            plan = native.Plan(pairs.rows * pairs.cols, (1,), False, 1.0, pairs.kernel_codes())
            v = native.virtual_weight(plan, self.space.w)
        else:
            v = self._reference()
        return v.view(pairs.rows, pairs.cols)

    def _reference(self) -> torch.Tensor:
        index, sign = self.hashes()
        return gather(self.space.w, index, sign)[0]


class DualHashing(NamedTuple):
    """-D: the space w' that g's parameters are hashed from, its hash pairs (one slot per
    parameter of g), the fixed init bound of each slot (R,), g's widths and whether g has
    biases."""

    space: CompressionSpace
    hashes: HashPairs
    bounds: torch.Tensor
    widths: list[int]
    g_bias: bool


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the backward multiplies the gradient by `factor`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: float) -> torch.Tensor:  # noqa: ANN001
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return grad * ctx.factor, None


def scale_grad(x: torch.Tensor, factor: float) -> torch.Tensor:
    """`x` in the forward pass, `factor` times its gradient in the backward pass."""
    return x if factor == 1.0 else _ScaleGrad.apply(x, factor)


class FunctionalWeight(nn.Module):
    """MFH's virtual weight V_ij = s * g(xi_1 w[h_1], ..., xi_U w[h_U]).

    `g=None` is the identity (U = 1). With `dual` (`DualHashing`: a second space w' and its hash
    pairs, one slot per parameter of g), g's parameters are hashed per virtual weight:
    alpha_ij[r] = b_r * xi'_r(i, j) * w'[h'_r(i, j)], w' ~ U(-1, 1) and b_r the fixed init bound of
    slot r (`g_param_bounds`).
    `scale` s is the fixed per-layer scale that lets layers of different fan-in share one w.
    `step` multiplies the gradient this layer sends to w (and to g's input) in the backward pass
    (`HashingSpec.step_scale`: 1 / s^2, so an SGD step moves V as far as an unscaled layer's).
    """

    def __init__(self, space: CompressionSpace, hashes: HashPairs, g: Reconstruction | None,
                 scale: float = 1.0, dual: DualHashing | None = None,
                 step: float = 1.0) -> None:
        super().__init__()
        if dual is not None:
            dual = DualHashing(*dual)
        width = dual.widths[0] if dual is not None else g.widths[0] if g is not None else 1
        if hashes.slots != width:
            raise ValueError(f"g reads {width} hashed values per virtual weight, but the "
                             f"HashPairs hold {hashes.slots} per weight")
        if dual is not None and dual.hashes.slots != len(dual.bounds):
            raise ValueError(f"-D hashes {len(dual.bounds)} parameters of g per virtual weight, "
                             f"but its HashPairs hold {dual.hashes.slots}")
        self.space, self.hashes, self.g, self.scale = space, hashes, g, scale
        self.step = step
        self.dual_space = self.dual_hashes = None
        if dual is not None:
            self.dual_space, self.dual_hashes, bounds, self.widths, self.g_bias = dual
            self.register_buffer("dual_bounds", bounds.unsqueeze(1), persistent=False)

    def forward(self) -> torch.Tensor:
        w = scale_grad(self.space.w, self.step)   # read once: a VirtualSpace rebuilds w
        v = self._native(w) if self._native_fits(w) else self._reference(w)
        return v.view(self.hashes.rows, self.hashes.cols)

    def g_widths(self) -> tuple[int, ...]:
        """g's widths, input (U) first; `(U,)` for the identity."""
        if self.dual_space is not None:
            return tuple(self.widths)
        return tuple(self.g.widths) if self.g is not None else (self.hashes.slots,)

    def _native_fits(self, w: torch.Tensor) -> bool:
        if not native.Plan.fits(self.g_widths()):
            return False
        w2 = None if self.dual_space is None else self.dual_space.w
        g = [] if self.g is None else [p for layer in self.g.layers
                                        for p in (layer.weight, layer.bias) if p is not None]
        return native.supports(w, w2, *g)

    def _native(self, w: torch.Tensor) -> torch.Tensor:
        pairs, dual_pairs = self.hashes, self.dual_hashes
        if dual_pairs is not None:
            plan = native.Plan(pairs.rows * pairs.cols, self.g_widths(), self.g_bias, self.scale,
                               pairs.kernel_codes(), dual_pairs.kernel_codes(),
                               self.dual_bounds.reshape(-1))
            return native.virtual_weight(plan, w, None, self.dual_space.w)
        params = None
        bias = False
        if self.g is not None:
            layers = list(self.g.layers)
            bias = layers[0].bias is not None
            params = torch.cat([p.reshape(-1) for layer in layers
                                for p in (layer.weight, layer.bias) if p is not None])
        plan = native.Plan(pairs.rows * pairs.cols, self.g_widths(), bias, self.scale,
                           pairs.kernel_codes())
        return native.virtual_weight(plan, w, params)

    def _reference(self, w: torch.Tensor) -> torch.Tensor:
        z = gather(w, *self.hashes())
        if self.dual_space is not None:
            alpha = gather(self.dual_space.w, *self.dual_hashes()) * self.dual_bounds
            v = per_weight_g(z, alpha, self.widths, self.g_bias)
        elif self.g is not None:
            v = self.g(z)
        else:
            v = z[0]
        if self.scale != 1.0:
            v = v * self.scale
        return v


class VirtualSpace(nn.Module):
    """A multi-hop compression space (FunHashNN, `hops=2`): its `size` values are themselves
    virtual, w_k = g2(xi_1(k) w2[h_1(k)], ..., xi_U(k) w2[h_U(k)]), rebuilt by `source` (a
    FunctionalWeight of one row over the stored, smaller space w2, with its own hashes and g2).
    It reads like a CompressionSpace: `w` (rebuilt at every access) and `size`."""

    def __init__(self, source: FunctionalWeight) -> None:
        super().__init__()
        self.source = source

    @property
    def w(self) -> torch.Tensor:
        return self.source().view(-1)

    @property
    def size(self) -> int:
        return self.source.hashes.cols
