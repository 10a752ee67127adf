"""`load_splits`: the one entry point the runner calls; picks a loader by `dataset.name`."""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from mfh.data.mnist5k import load_mnist5k
from mfh.data.splits import Splits

Loader = Callable[[DictConfig], Splits]

LOADERS: dict[str, Loader] = {
    "mnist5k": lambda cfg: load_mnist5k(cfg.data_seed),
}


def load_splits(cfg: DictConfig) -> Splits:
    """The train / valid / test splits of `cfg.dataset` (the full run config is passed: the
    loaders read `cfg.dataset`, `cfg.data_seed`, `cfg.data_dir` and `cfg.download`)."""
    name = cfg.dataset.name
    if name not in LOADERS:
        raise ValueError(f"dataset.name={name!r} is unknown; allowed: {', '.join(sorted(LOADERS))}")
    return LOADERS[name](cfg)
