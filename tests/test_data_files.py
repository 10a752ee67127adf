"""MNIST, CIFAR-10 and Fashion-MNIST loaders on small files written in the real formats, and
the message given when the files are missing."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mfh.data import DatasetUnavailable, Splits, load_splits
from mfh.data.idx import read_idx, write_idx
from mfh.data.torchvision_sets import FASHION_MNIST_DIR
from mfh.harness.config import compose_config, data_spec

GEN = np.random.default_rng(0)


def _load(name: str, data_dir: Path, *extra: str) -> Splits:
    cfg = compose_config([f"dataset={name}", f"data_dir={data_dir}", *extra])
    return load_splits(data_spec(cfg))


def _write_mnist_family(folder: Path, n_train: int, n_test: int, suffix: str = "") -> dict:
    """Random IDX files with MNIST's names in `folder`; returns the arrays written."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": GEN.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": GEN.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    for stem, array in arrays.items():
        write_idx(folder / f"{stem}{suffix}", array.astype(np.uint8))
    return arrays


def _check_official(s: Splits, arrays: dict, n_train: int) -> None:
    n_valid = round(0.2 * n_train)
    assert (len(s.train), len(s.valid)) == (n_train - n_valid, n_valid)
    train_x = torch.cat([s.train.x, s.valid.x])[:, 0]
    written = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float() / 255
    # train + valid is a permutation of the official training set
    assert torch.equal(train_x.flatten(1).sum(1).sort().values,
                       written.flatten(1).sum(1).sort().values)
    torch.testing.assert_close(s.test.x[:, 0], torch.from_numpy(
        arrays["t10k-images-idx3-ubyte"]).float() / 255)
    assert torch.equal(s.test.y, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    array = GEN.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / f"x{suffix}", array)
    assert np.array_equal(read_idx(tmp_path / f"x{suffix}"), array)


def test_mnist_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable) as err:
        _load("mnist", tmp_path)
    assert str(tmp_path.resolve() / "MNIST" / "raw") in str(err.value)
    assert "download=true" in str(err.value)


def test_mnist_reads_raw_idx_files(tmp_path: Path) -> None:
    arrays = _write_mnist_family(tmp_path / "MNIST" / "raw", 50, 20)
    s = _load("mnist", tmp_path)
    assert s.name == "mnist" and s.num_classes == 10 and s.shape == (1, 28, 28)
    _check_official(s, arrays, 50)
    assert not torch.equal(_load("mnist", tmp_path, "data_seed=1").valid.x, s.valid.x)


def _write_cifar(root: Path, per_batch: int) -> list[np.ndarray]:
    """CIFAR-10 python batches (pickled dicts, rows of 3072 bytes R, G, B planes) in `root`."""
    root.mkdir(parents=True)
    images = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = GEN.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
        images.append(data.reshape(-1, 3, 32, 32))
        entry = {"batch_label": name, "labels": list(np.arange(per_batch) % 10), "data": data,
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (root / name).write_bytes(pickle.dumps(entry))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    meta = {"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta))
    return images


def test_cifar10_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable) as err:
        _load("cifar10", tmp_path)
    assert str(tmp_path.resolve() / "cifar-10-batches-py") in str(err.value)
    assert "download=true" in str(err.value)


def test_cifar10_reads_python_batches(tmp_path: Path) -> None:
    images = _write_cifar(tmp_path / "cifar-10-batches-py", per_batch=10)
    with pytest.raises(DatasetUnavailable, match="md5"):  # not the official files
        _load("cifar10", tmp_path)
    s = _load("cifar10", tmp_path, "dataset.verify_md5=false")
    assert s.name == "cifar10" and s.num_classes == 10 and s.shape == (3, 32, 32)
    assert (len(s.train), len(s.valid), len(s.test)) == (40, 10, 10)
    torch.testing.assert_close(s.test.x, torch.from_numpy(images[-1]).float() / 255)
    train = torch.from_numpy(np.concatenate(images[:5])).float() / 255
    found = torch.cat([s.train.x, s.valid.x]).flatten(1).sum(1).sort().values
    assert torch.equal(found, train.flatten(1).sum(1).sort().values)


def test_fashion_mnist_reads_gz_idx_files_from_path(tmp_path: Path) -> None:
    arrays = _write_mnist_family(tmp_path / "fm", 30, 10, suffix=".gz")
    s = _load("fashion_mnist", tmp_path, f"dataset.path={tmp_path / 'fm'}")
    assert s.name == "fashion_mnist"
    _check_official(s, arrays, 30)


def test_fashion_mnist_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailable) as err:
        _load("fashion_mnist", tmp_path, f"dataset.path={tmp_path / 'nothing'}")
    message = str(err.value)
    assert str(tmp_path.resolve() / "FashionMNIST" / "raw") in message
    assert "download=true" in message and "dataset-fashion-mnist" in message


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_system_files(tmp_path: Path) -> None:
    s = _load("fashion_mnist", tmp_path)
    assert (len(s.train), len(s.valid), len(s.test)) == (48000, 12000, 10000)
    assert s.test.y.bincount().tolist() == [1000] * 10
    assert 0 <= s.train.x.min() and s.train.x.max() == 1


def test_variants_over_a_large_base(tmp_path: Path) -> None:
    _write_mnist_family(tmp_path / "MNIST" / "raw", 50, 20)
    sizes = ["dataset.base=mnist", "dataset.train_size=30", "dataset.valid_size=10",
             "dataset.test_size=25"]
    s = _load("bg_rand", tmp_path, *sizes)
    assert (len(s.train), len(s.valid), len(s.test)) == (30, 10, 25)
    with pytest.raises(ValueError, match="fewer than the sizes"):
        _load("basic", tmp_path, "dataset.base=mnist")  # 70 digits < 10,000 + 2,000 + 50,000
