"""Vectorised xxh32 over integer keys, and the bucket/sign hash pairs built on it.

A virtual weight is identified by four unsigned 32-bit words, the key (layer, slot, i, j):
layer index in the network, hash slot (u for the U hash pairs of w, r for the hashes of w'),
row i and flattened column j (conv kernels are flattened to out x (in*kh*kw)). The key is hashed
as the 16-byte little-endian message of those words, exactly as `xxhash.xxh32_intdigest` does,
so the mapping is the same on every machine and device. All arithmetic is int64 with every
32-bit product split into 16-bit halves, so nothing overflows.
"""

from __future__ import annotations

import torch

MASK = 0xFFFFFFFF
PRIME1 = 2654435761
PRIME2 = 2246822519
PRIME3 = 3266489917
PRIME5 = 374761393

# Offsets added to the user's hash seed for each role, so each role is an independent hash.
BUCKET, SIGN, DUAL_BUCKET, DUAL_SIGN = 0, 1, 2, 3


def _mul32(a: torch.Tensor, b: int) -> torch.Tensor:
    """(a * b) mod 2**32 for int64 `a` in [0, 2**32) and a constant `b`, without overflow."""
    low = a * (b & 0xFFFF)
    high = ((a * (b >> 16)) & 0xFFFF) << 16
    return (low + high) & MASK


def _rotl(x: torch.Tensor, r: int) -> torch.Tensor:
    return ((x << r) | (x >> (32 - r))) & MASK


def _round(acc: torch.Tensor, lane: torch.Tensor) -> torch.Tensor:
    acc = (acc + _mul32(lane, PRIME2)) & MASK
    return _mul32(_rotl(acc, 13), PRIME1)


def xxh32_words(words: list[torch.Tensor], seed: int) -> torch.Tensor:
    """xxh32 of the 16-byte messages made of four uint32 words each.

    `words`: four broadcastable int64 tensors with values in [0, 2**32). Returns int64 hashes in
    [0, 2**32) of the broadcast shape, equal to `xxhash.xxh32_intdigest(message, seed)`.
    """
    if len(words) != 4:
        raise ValueError("xxh32_words hashes exactly four 32-bit words (16 bytes)")
    seed &= MASK
    v1 = torch.tensor((seed + PRIME1 + PRIME2) & MASK, dtype=torch.int64)
    v2 = torch.tensor((seed + PRIME2) & MASK, dtype=torch.int64)
    v3 = torch.tensor(seed, dtype=torch.int64)
    v4 = torch.tensor((seed - PRIME1) & MASK, dtype=torch.int64)
    v1, v2, v3, v4 = (_round(v.to(w.device), w) for v, w in zip((v1, v2, v3, v4), words,
                                                                  strict=True))
    h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18) + 16) & MASK
    h = h ^ (h >> 15)
    h = _mul32(h, PRIME2)
    h = h ^ (h >> 13)
    h = _mul32(h, PRIME3)
    return h ^ (h >> 16)


def weight_keys(layer: int, slots: int, rows: int, cols: int,
                device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Key words (layer, slot, i, j) of one layer, broadcastable to (slots, rows, cols)."""
    def ar(n: int, shape: tuple[int, int, int]) -> torch.Tensor:
        return torch.arange(n, dtype=torch.int64, device=device).view(shape)

    layer_word = torch.tensor(layer, dtype=torch.int64, device=device).view(1, 1, 1)
    return [layer_word, ar(slots, (-1, 1, 1)), ar(rows, (1, -1, 1)), ar(cols, (1, 1, -1))]


def bucket_and_sign(layer: int, slots: int, rows: int, cols: int, buckets: int, seed: int,
                    dual: bool = False, device: torch.device | str = "cpu"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket indices and signs of a (slots, rows, cols) block of virtual weights.

    Returns `(index, sign)`: int32 indices in [0, buckets) and float32 signs in {-1, +1}, both of
    shape (slots, rows * cols). The bucket is h mod `buckets`; the sign is + when the sign hash
    is even. `dual=True` uses the independent hash pair of the second space w'.
    """
    words = weight_keys(layer, slots, rows, cols, device)
    bucket_role, sign_role = (DUAL_BUCKET, DUAL_SIGN) if dual else (BUCKET, SIGN)
    h = xxh32_words(words, seed + bucket_role)
    xi = xxh32_words(words, seed + sign_role)
    index = (h % buckets).to(torch.int32).reshape(slots, rows * cols)
    sign = (1 - 2 * (xi & 1)).to(torch.float32).reshape(slots, rows * cols)
    return index, sign
