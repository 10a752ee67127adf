"""`load_splits`: the one entry point the runner calls; picks a loader by the dataset's name.

`LOADERS` maps a dataset name (the `name:` of its YAML in conf/dataset/) to a function of the
`DataSpec`; adding a dataset is one entry here (docs/datasets.md, "Adding a dataset").
"""

from __future__ import annotations

from collections.abc import Callable

from mfh.data.cache import cached
from mfh.data.mnist5k import load_mnist5k
from mfh.data.shapes import convex_sets, rectangles
from mfh.data.splits import Splits, rng, to_split
from mfh.data.torchvision_sets import (
    cifar10_arrays,
    fashion_mnist_arrays,
    mnist_arrays,
    official_splits,
)
from mfh.data.variants import KINDS, build_variant
from mfh.harness.specs import DataSpec

Loader = Callable[[DataSpec], Splits]
TWO_CLASS = ("rect", "convex")   # every other loader's sets have 10 classes


def num_classes(name: str) -> int:
    """The number of classes of the sets `LOADERS[name]` makes, without loading them."""
    return 2 if name in TWO_CLASS else 10


def _shapes(spec: DataSpec) -> Splits:
    """RECT or CONVEX: each part drawn from its own `data_seed` stream (2 classes)."""
    ds = spec.options
    parts = []
    for part in ("train", "valid", "test"):
        gen, count = rng(spec.data_seed, f"{spec.name}/{part}"), ds[f"{part}_size"]
        x, y = (rectangles(gen, count, ds["min_gap"]) if spec.name == "rect"
                else convex_sets(gen, count, ds.get("match_area", False)))
        parts.append(to_split(x, y))
    return Splits(spec.name, *parts, num_classes=num_classes(spec.name))


def _generated(build: Loader) -> Loader:
    """A loader that serves `build(spec)` through the on-disk cache (cache.py)."""
    def load(spec: DataSpec) -> Splits:
        return cached(dict(spec.options), spec.data_seed, spec.data_dir, lambda: build(spec))
    return load


def _variant(spec: DataSpec) -> Splits:
    return build_variant(spec.options, spec.data_seed, spec.data_dir, spec.download)


LOADERS: dict[str, Loader] = {
    "mnist5k": lambda spec: load_mnist5k(spec.data_seed),
    "mnist": lambda spec: official_splits(
        "mnist", mnist_arrays(spec.data_dir, spec.download), spec.data_seed),
    "fashion_mnist": lambda spec: official_splits(
        "fashion_mnist",
        fashion_mnist_arrays(spec.options.get("path"), spec.data_dir, spec.download),
        spec.data_seed),
    "cifar10": lambda spec: official_splits(
        "cifar10", cifar10_arrays(spec.data_dir, spec.download, spec.options["verify_md5"]),
        spec.data_seed),
    **{kind: _generated(_variant) for kind in KINDS},
    "rect": _generated(_shapes),
    "convex": _generated(_shapes),
}


def load_splits(spec: DataSpec) -> Splits:
    """The train / valid / test splits of the dataset `spec` names (validated: a loader
    exists for it)."""
    return LOADERS[spec.name](spec)
