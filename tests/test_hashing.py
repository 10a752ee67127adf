"""The vectorised xxh32 equals the reference `xxhash` package, and hashes are well spread."""

import struct

import numpy as np
import torch
import xxhash

from mfh.method.hashing import BUCKET, SIGN, bucket_and_sign, weight_keys, xxh32_words


def test_xxh32_matches_xxhash_package_on_random_keys():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**32, size=(4, 5000), dtype=np.uint64).astype(np.int64)
    for seed in (0, 1691, 2**32 - 1):
        ours = xxh32_words([torch.from_numpy(k) for k in keys], seed)
        for n in range(keys.shape[1]):
            message = struct.pack("<4I", *(int(k) for k in keys[:, n]))
            assert int(ours[n]) == xxhash.xxh32_intdigest(message, seed)


def test_bucket_and_sign_match_xxhash_per_key():
    layer, slots, rows, cols, buckets, seed = 3, 2, 7, 11, 97, 1691
    index, sign = bucket_and_sign(layer, slots, rows, cols, buckets, seed)
    assert index.shape == sign.shape == (slots, rows * cols)
    assert index.dtype == torch.int32
    for u in range(slots):
        for i in range(rows):
            for j in range(cols):
                message = struct.pack("<4I", layer, u, i, j)
                h = xxhash.xxh32_intdigest(message, seed + BUCKET)
                xi = xxhash.xxh32_intdigest(message, seed + SIGN)
                assert index[u, i * cols + j] == h % buckets
                assert sign[u, i * cols + j] == (1.0 if xi % 2 == 0 else -1.0)


def test_buckets_and_signs_are_balanced():
    index, sign = bucket_and_sign(0, 1, 300, 400, 64, 7)
    counts = torch.bincount(index.flatten().long(), minlength=64).double()
    assert counts.min() > 0.9 * counts.mean() and counts.max() < 1.1 * counts.mean()
    assert abs(sign.mean().item()) < 0.01


def test_keys_of_layers_and_slots_differ():
    a, _ = bucket_and_sign(0, 2, 20, 20, 1000, 1)
    b, _ = bucket_and_sign(1, 1, 20, 20, 1000, 1)
    assert (a[0] != a[1]).float().mean() > 0.9
    assert (a[0] != b[0]).float().mean() > 0.9
    words = weight_keys(2, 3, 4, 5)
    assert torch.broadcast_shapes(*(w.shape for w in words)) == (3, 4, 5)
