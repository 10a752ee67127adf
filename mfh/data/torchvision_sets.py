"""MNIST, Fashion-MNIST and CIFAR-10: the official files, fetched by torchvision when allowed.

Each set keeps its official test set; its validation set is the last 20% of the official
training set after a `data_seed` permutation (`splits.holdout`).

* MNIST: torchvision's `MNIST` reads `<data_dir>/MNIST/raw/*-ubyte` (and downloads them
  with `download=true`).
* Fashion-MNIST: the IDX files in `path` (default: Debian's `/usr/share/datasets/fashion-mnist`,
  `.gz` or plain) are read directly; otherwise torchvision's `FashionMNIST` under `data_dir`.
* CIFAR-10: torchvision downloads and md5-checks the archive; the pickled batches in
  `<data_dir>/cifar-10-batches-py` are then read by `read_cifar10`, which checks each file
  against torchvision's own md5 table unless `verify_md5=false` (tests use small files in the
  same format, which cannot match the official checksums).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from mfh.data.idx import read_idx
from mfh.data.splits import DatasetUnavailable, Split, Splits, holdout, to_split

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


def _torchvision_arrays(name: str, data_dir: str, download: bool) -> Arrays:
    """(x_train, y_train, x_test, y_test) of torchvision's MNIST-like class `name` (MNIST,
    FashionMNIST), uint8 / int64. torchvision is imported here, when a run needs it: it costs
    about 2 s of start-up that mnist5k runs need not pay."""
    import torchvision.datasets

    cls = getattr(torchvision.datasets, name)
    raw = Path(data_dir).resolve() / cls.__name__ / "raw"
    try:
        train, test = (cls(data_dir, train=t, download=download) for t in (True, False))
    except (RuntimeError, OSError) as err:
        how = "the download failed" if download else "the files are missing"
        raise DatasetUnavailable(
            f"{cls.__name__}: {how} ({err}). Put {', '.join(IDX_STEMS)} in {raw}, "
            "or pass download=true on a machine with internet access."
        ) from err
    return (train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy())


def mnist_arrays(data_dir: str, download: bool) -> Arrays:
    """Official MNIST: 60,000 training and 10,000 test digits, (N, 28, 28) uint8."""
    return _torchvision_arrays("MNIST", data_dir, download)


def _idx_dir_arrays(directory: Path) -> Arrays | None:
    """The four MNIST-family IDX files of a directory (plain or `.gz`), or None if incomplete."""
    found = []
    for stem in IDX_STEMS:
        candidates = [directory / stem, directory / f"{stem}.gz"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        found.append(read_idx(path))
    x_train, y_train, x_test, y_test = found
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64)


def fashion_mnist_arrays(path: str | None, data_dir: str, download: bool) -> Arrays:
    """Official Fashion-MNIST (60,000 + 10,000, (N, 28, 28) uint8): from the IDX files in
    `path` when complete, else torchvision's `FashionMNIST` under `data_dir`."""
    if path:
        arrays = _idx_dir_arrays(Path(path))
        if arrays is not None:
            return arrays
    try:
        return _torchvision_arrays("FashionMNIST", data_dir, download)
    except DatasetUnavailable as err:
        raise DatasetUnavailable(
            f"{err} Alternatively install the Debian package dataset-fashion-mnist "
            f"(files in {FASHION_MNIST_DIR}) or set dataset.path to a folder holding them."
        ) from err


def read_cifar10(root: Path, verify_md5: bool) -> Arrays:
    """CIFAR-10's python batches in `root` (data_batch_1..5, test_batch, batches.meta):
    images (N, 3, 32, 32) uint8, labels (N,) int64; md5-checked against torchvision's table."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    meta = [CIFAR10.meta["filename"], CIFAR10.meta["md5"]]
    files = [*CIFAR10.train_list, *CIFAR10.test_list, meta]
    for name, md5 in files:
        if not (root / name).is_file():
            raise FileNotFoundError(root / name)
        if verify_md5 and not check_integrity(str(root / name), md5):
            raise DatasetUnavailable(f"CIFAR-10 file {root / name} fails its md5 check; "
                                     "delete the folder and pass download=true")
    with open(root / CIFAR10.meta["filename"], "rb") as f:
        classes = pickle.load(f, encoding="latin1")[CIFAR10.meta["key"]]
    if len(classes) != 10:
        raise DatasetUnavailable(f"{root}/batches.meta lists {len(classes)} classes, not 10")

    def batches(names: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for name, _ in names:
            with open(root / name, "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            xs.append(np.asarray(entry["data"], np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(entry["labels"], np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    return (*batches(CIFAR10.train_list), *batches(CIFAR10.test_list))


def cifar10_arrays(data_dir: str, download: bool, verify_md5: bool = True) -> Arrays:
    """Official CIFAR-10: 50,000 training and 10,000 test images, (N, 3, 32, 32) uint8."""
    from torchvision.datasets import CIFAR10

    root = Path(data_dir).resolve() / CIFAR10.base_folder
    try:
        if download:
            CIFAR10(data_dir, train=True, download=True)
        return read_cifar10(root, verify_md5)
    except DatasetUnavailable:
        raise
    except (RuntimeError, OSError) as err:
        how = "the download failed" if download else "the files are missing"
        raise DatasetUnavailable(
            f"CIFAR-10: {how} ({err}). Put data_batch_1..5, test_batch and batches.meta "
            f"(the python version) in {root}, or pass download=true on a machine with internet "
            "access."
        ) from err


def official_splits(name: str, arrays: Arrays, data_seed: int, num_classes: int = 10) -> Splits:
    """Splits from official (train, test) arrays of uint8 images: valid = last 20% of the
    training set after a `data_seed` permutation, test = the official test set."""
    x_train, y_train, x_test, y_test = arrays
    train, valid = holdout(len(y_train), data_seed, f"{name}/valid")

    def part(x: np.ndarray, y: np.ndarray) -> Split:
        return to_split(x / np.float32(255), y)

    return Splits(name, part(x_train[train], y_train[train]), part(x_train[valid], y_train[valid]),
                  part(x_test, y_test), num_classes)
