"""`load_splits`: the one entry point the runner calls; picks a loader by `dataset.name`."""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

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

Loader = Callable[[DictConfig], Splits]


def _shapes(cfg: DictConfig) -> Splits:
    """RECT or CONVEX: each part drawn from its own `data_seed` stream (2 classes)."""
    ds = cfg.dataset
    parts = []
    for part in ("train", "valid", "test"):
        gen, count = rng(cfg.data_seed, f"{ds.name}/{part}"), ds[f"{part}_size"]
        x, y = rectangles(gen, count, ds.min_gap) if ds.name == "rect" else convex_sets(gen, count)
        parts.append(to_split(x, y))
    return Splits(ds.name, *parts, num_classes=2)


def _generated(build: Loader) -> Loader:
    """A loader that serves `build(cfg)` through the on-disk cache (cache.py)."""
    def load(cfg: DictConfig) -> Splits:
        dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
        return cached(dataset, cfg.data_seed, cfg.data_dir, lambda: build(cfg))
    return load


def _variant(cfg: DictConfig) -> Splits:
    return build_variant(cfg.dataset, cfg.data_seed, cfg.data_dir, cfg.download)


LOADERS: dict[str, Loader] = {
    "mnist5k": lambda cfg: load_mnist5k(cfg.data_seed),
    "mnist": lambda cfg: official_splits(
        "mnist", mnist_arrays(cfg.data_dir, cfg.download), cfg.data_seed),
    "fashion_mnist": lambda cfg: official_splits(
        "fashion_mnist",
        fashion_mnist_arrays(cfg.dataset.get("path"), cfg.data_dir, cfg.download), cfg.data_seed),
    "cifar10": lambda cfg: official_splits(
        "cifar10", cifar10_arrays(cfg.data_dir, cfg.download, cfg.dataset.verify_md5),
        cfg.data_seed),
    **{kind: _generated(_variant) for kind in KINDS},
    "rect": _generated(_shapes),
    "convex": _generated(_shapes),
}


def load_splits(cfg: DictConfig) -> Splits:
    """The train / valid / test splits of `cfg.dataset` (the full run config is passed: the
    loaders read `cfg.dataset`, `cfg.data_seed`, `cfg.data_dir` and `cfg.download`)."""
    name = cfg.dataset.name
    if name not in LOADERS:
        raise ValueError(f"dataset.name={name!r} is unknown; allowed: {', '.join(sorted(LOADERS))}")
    return LOADERS[name](cfg)
