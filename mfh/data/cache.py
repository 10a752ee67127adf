"""On-disk cache of generated datasets, keyed by the dataset config and `data_seed`.

A cached set lives in `<data_dir>/cache/<key>/`: `data.npz` (images as uint8 grey levels
k/255, (N, C, H, W); labels int64) and `meta.json` (the config, the seed, the sha256 of
`data.npz`). `key` is the first 16 hex digits of the sha256 of the canonical JSON of
(`CACHE_VERSION`, dataset config, data_seed). A missing, unreadable or checksum-failing cache
is rebuilt, with one printed line saying so. Files are written atomically (temp + rename).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mfh.atomic import write_atomic
from mfh.data.splits import Split, Splits

CACHE_VERSION = 1  # bump when a generator changes, so that old caches are not reused
PARTS = ("train", "valid", "test")


def cache_key(dataset: dict[str, Any], data_seed: int) -> str:
    """16 hex digits identifying a generated set: its config, its seed and the cache version."""
    blob = json.dumps([CACHE_VERSION, dataset, int(data_seed)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def quantize(splits: Splits) -> Splits:
    """The same splits with images rounded to 8-bit grey levels (k/255), as they are cached."""
    def q(part: Split) -> Split:
        return Split(torch.round(part.x * 255) / 255, part.y)

    return Splits(splits.name, q(splits.train), q(splits.valid), q(splits.test),
                  splits.num_classes)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(folder: Path, splits: Splits, meta: dict[str, Any]) -> None:
    """Write `splits` (images in [0, 1], stored as uint8 k/255) and `meta` to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for part in PARTS:
        split: Split = getattr(splits, part)
        arrays[f"x_{part}"] = torch.round(split.x * 255).to(torch.uint8).numpy()
        arrays[f"y_{part}"] = split.y.numpy()
    write_atomic(folder / "data.npz", lambda f: np.savez(f, **arrays))
    meta = {**meta, "name": splits.name, "num_classes": splits.num_classes,
            "sha256": _sha256(folder / "data.npz")}
    write_atomic(folder / "meta.json", lambda f: f.write(json.dumps(meta, indent=1).encode()))


def load(folder: Path) -> Splits:
    """Read a cached set; raises ValueError when the checksum or the contents are wrong."""
    meta = json.loads((folder / "meta.json").read_text())
    if _sha256(folder / "data.npz") != meta["sha256"]:
        raise ValueError("checksum mismatch")
    with np.load(folder / "data.npz") as data:
        parts = [Split(torch.from_numpy(data[f"x_{p}"]).float() / 255,
                       torch.from_numpy(data[f"y_{p}"])) for p in PARTS]
    return Splits(meta["name"], *parts, num_classes=meta["num_classes"])


def cached(dataset: dict[str, Any], data_seed: int, data_dir: str,
           build: Callable[[], Splits]) -> Splits:
    """The generated set of `dataset` + `data_seed`: read from the cache under `data_dir`,
    or built with `build()` (then quantised to 8 bits and saved) when missing or corrupt."""
    folder = Path(data_dir) / "cache" / cache_key(dataset, data_seed)
    if (folder / "meta.json").is_file():
        try:
            return load(folder)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            print(f"dataset cache {folder} is corrupt ({err}); rebuilding", flush=True)
    else:
        print(f"building dataset {dataset.get('name')} (data_seed={data_seed}) -> {folder}",
              flush=True)
    splits = quantize(build())
    save(folder, splits, {"dataset": dataset, "data_seed": int(data_seed),
                          "cache_version": CACHE_VERSION})
    return splits
