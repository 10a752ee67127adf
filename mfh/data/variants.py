"""The Larochelle et al. (2007) MNIST variants, generated over a digit base.

`base` is `mnist5k` (default), `mnist` or `fashion_mnist`. Every variant of one base and
`data_seed` uses the same digits in the same order (so `rot[i]` is `basic[i]` rotated):

* a large base (mnist, fashion_mnist: 70,000 = official train + test) is permuted by
  `data_seed` and cut into consecutive blocks of train / valid / test size (default the
  papers' 10,000 / 2,000 / 50,000);
* mnist5k is too small for that: its own split is used (3,200 / 800 / 1,000, disjoint digits,
  each used once; see mnist5k.py).

`train_size` / `valid_size` / `test_size` (null = the default above) take the first examples
of each block. Transformations (each part draws from its own `data_seed` stream):

* basic: the digit unchanged.
* rot: rotated by an angle uniform in [0, 2 pi), bilinear, zero fill (same as torchvision's
  `rotate`, done for all images in one `grid_sample` call).
* bg_rand: pixel = max(digit, u) with u uniform in [0, 1] per pixel.
* bg_img: pixel = max(digit, patch) with a textured photograph patch (backgrounds.py).
* bg_img_rot: rotate the digit, then the image background.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mfh.data.backgrounds import background_patches
from mfh.data.mnist5k import load_mnist5k
from mfh.data.splits import Splits, rng, to_split
from mfh.data.torchvision_sets import FASHION_MNIST_DIR, fashion_mnist_arrays, mnist_arrays

KINDS = ("basic", "rot", "bg_rand", "bg_img", "bg_img_rot")
PAPER_SIZES = {"train": 10_000, "valid": 2_000, "test": 50_000}
PARTS = ("train", "valid", "test")


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each image of `x` (N, C, H, W) counter-clockwise by `angles` (N,) radians about
    its centre; bilinear interpolation, zero outside (torchvision's `rotate`, batched)."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def digit_blocks(ds: dict[str, Any], data_seed: int, data_dir: str,
                 download: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The base digits of each part: {part: (images (N, 28, 28) float32 in [0, 1], labels)}."""
    base = ds.get("base", "mnist5k")
    if base == "mnist5k":
        s = load_mnist5k(data_seed)
        pools = {p: (getattr(s, p).x[:, 0].numpy(), getattr(s, p).y.numpy()) for p in PARTS}
        sizes = {p: ds.get(f"{p}_size") or len(pools[p][1]) for p in PARTS}
    elif base in ("mnist", "fashion_mnist"):
        if base == "mnist":
            x_tr, y_tr, x_te, y_te = mnist_arrays(data_dir, download)
        else:
            x_tr, y_tr, x_te, y_te = fashion_mnist_arrays(FASHION_MNIST_DIR, data_dir, download)
        x, y = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
        order = rng(data_seed, f"digits/{base}").permutation(len(y))
        sizes = {p: ds.get(f"{p}_size") or PAPER_SIZES[p] for p in PARTS}
        if sum(sizes.values()) > len(y):
            raise ValueError(f"{base} has {len(y)} images, fewer than the sizes {sizes}")
        starts = np.cumsum([0, sizes["train"], sizes["valid"]])
        pools = {p: (x[order[s: s + sizes[p]]] / np.float32(255), y[order[s: s + sizes[p]]])
                 for p, s in zip(PARTS, starts, strict=True)}
    else:
        raise ValueError(f"dataset.base={base!r} is unknown; allowed: mnist5k, mnist, "
                         "fashion_mnist")
    for p in PARTS:
        if sizes[p] > len(pools[p][1]):
            raise ValueError(f"dataset.{p}_size={sizes[p]} exceeds the {len(pools[p][1])} "
                             f"{p} digits of base {base}")
    return {p: (pools[p][0][: sizes[p]], pools[p][1][: sizes[p]]) for p in PARTS}


def transform(kind: str, digits: np.ndarray, gen: np.random.Generator,
              ds: dict[str, Any]) -> np.ndarray:
    """Apply variant `kind` to digits (N, 28, 28) in [0, 1]; returns (N, 28, 28) in [0, 1]."""
    x = digits.astype(np.float32)
    if kind in ("rot", "bg_img_rot"):
        angles = torch.from_numpy(gen.uniform(0.0, 2 * math.pi, len(x)))
        x = rotate(torch.from_numpy(x)[:, None], angles.float())[:, 0].clamp(0, 1).numpy()
    if kind == "bg_rand":
        x = np.maximum(x, gen.random(x.shape, dtype=np.float32))
    if kind in ("bg_img", "bg_img_rot"):
        patches = background_patches(gen, len(x), list(ds["images"]), ds["image_scale"],
                                     ds["min_patch_std"])
        x = np.maximum(x, patches)
    return x


def build_variant(ds: dict[str, Any], data_seed: int, data_dir: str, download: bool) -> Splits:
    """Generate variant `ds["name"]` (one of KINDS) over its base: 1 x 28 x 28, 10 classes.
    `ds`: the dataset's options (its YAML)."""
    name = ds["name"]
    blocks = digit_blocks(ds, data_seed, data_dir, download)
    parts = [to_split(transform(name, x, rng(data_seed, f"{name}/{p}"), ds), y)
             for p, (x, y) in blocks.items()]
    return Splits(name, *parts, num_classes=10)
