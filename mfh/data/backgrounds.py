"""Background patches for BG-IMG: random 28 x 28 crops of scikit-image's bundled photographs.

Only images that ship inside the scikit-image package are used (no download). Colour images are
converted to grey with `skimage.color.rgb2gray`; every image is rescaled by `scale` (with
anti-aliasing) so that a 28 x 28 window holds texture rather than a smooth patch. A patch is
accepted when its pixel standard deviation is at least `min_std` (grey levels in [0, 1]); the
patch is drawn as: an image uniformly from the list, then a position uniformly among that
image's accepted positions (exactly rejection sampling of uniform positions).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.ndimage import uniform_filter

PATCH = 28


@cache
def _grey_image(name: str, scale: float) -> np.ndarray:
    """skimage.data.<name>() as float64 grey levels in [0, 1], rescaled by `scale`."""
    import skimage.data
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.transform import rescale
    from skimage.util import img_as_float

    image = getattr(skimage.data, name)()
    if image.ndim == 3:
        image = rgb2gray(rgba2rgb(image) if image.shape[2] == 4 else image)
    image = img_as_float(image)
    return np.clip(rescale(image, scale, anti_aliasing=True), 0.0, 1.0)


@cache
def _accepted_positions(name: str, scale: float, min_std: float) -> np.ndarray:
    """Top-left corners (M, 2) of the 28 x 28 windows of an image with std >= min_std."""
    image = _grey_image(name, scale)
    mean = uniform_filter(image, PATCH, mode="constant")
    mean_sq = uniform_filter(image**2, PATCH, mode="constant")
    std = np.sqrt(np.maximum(mean_sq - mean**2, 0.0))
    # uniform_filter centres the window: window [r, r+28) has its centre at r + 14.
    h, w = image.shape
    std = std[PATCH // 2: h - PATCH // 2 + 1, PATCH // 2: w - PATCH // 2 + 1]
    positions = np.argwhere(std >= min_std)
    if len(positions) == 0:
        raise ValueError(f"skimage image {name!r} has no 28 x 28 patch with std >= {min_std}")
    return positions


def background_patches(rng: np.random.Generator, count: int, images: list[str],
                       scale: float, min_std: float) -> np.ndarray:
    """`count` accepted patches, (count, 28, 28) float32 grey levels in [0, 1]."""
    which = rng.integers(len(images), size=count)
    out = np.empty((count, PATCH, PATCH), np.float32)
    for k, name in enumerate(images):
        rows = np.flatnonzero(which == k)
        positions = _accepted_positions(name, scale, min_std)
        r, c = positions[rng.integers(len(positions), size=len(rows))].T
        windows = np.lib.stride_tricks.sliding_window_view(_grey_image(name, scale), (PATCH, PATCH))
        out[rows] = windows[r, c]
    return out
