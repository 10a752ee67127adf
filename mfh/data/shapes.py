"""RECT and CONVEX (Larochelle et al. 2007), generated from their definitions; 28 x 28 binary
images (white = 1 on black = 0), labels balanced exactly (half of each class, shuffled).

RECT, label 1 = taller than wide, 0 = wider than tall: a 1-pixel white rectangle outline
whose two side lengths are drawn uniformly from {MIN_SIDE..28} with |height - width| >=
`min_gap` (pairs closer than that are rejected), the longer side vertical for label 1; the
top-left corner is uniform among positions where the whole rectangle fits.

CONVEX, label 1 = convex, 0 = not convex. A convex set is the intersection of k half-planes,
k ~ Geometric(p) on {1, 2, ...}, each bounded by a line through a point uniform in the image
square in a direction uniform in [0, 2 pi); pixel (r, c) belongs to it when its centre does.
Convex images: p = 0.195, rejected below 19 pixels. Non-convex images: the union of 2..4
(uniform) such sets with p = 0.07 and at least 10 pixels each, kept only if the union is not
convex, i.e. some pixel centre inside the convex hull of the region's centres is not in the
region (tested with scipy's ConvexHull). In both classes, regions whose pixel centres all lie
on one line (a 1-pixel-wide line, e.g. along the image border) are rejected like those that
are too small: they are not 2-D regions. With `match_area` (the default of conf/dataset/
convex.yaml), both classes are drawn with the same distribution of white-pixel counts
(`area_matched`), so that the area alone says nothing about the label.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

SIZE = 28
MIN_SIDE = 3
CONVEX_P, CONVEX_MIN_PIXELS = 0.195, 19
PART_P, PART_MIN_PIXELS = 0.07, 10
UNION_SIZES = (2, 3, 4)
_CENTRES = np.stack(np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij"), -1)
_CENTRES = _CENTRES.reshape(-1, 2).astype(np.float64)  # (784, 2) pixel centres (row, col)
_CENTRES_T = np.ascontiguousarray(_CENTRES.T)  # (2, 784)


def balanced_labels(gen: np.random.Generator, count: int) -> np.ndarray:
    """(count,) int64 labels: count // 2 ones, the rest zeros, in a random order."""
    return gen.permutation(np.arange(count) < count // 2).astype(np.int64)


def rectangles(gen: np.random.Generator, count: int, min_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """RECT images (count, 28, 28) float32 in {0, 1} and labels (count,) int64 (1 = tall)."""
    if not 1 <= min_gap <= SIZE - MIN_SIDE:
        raise ValueError(f"dataset.min_gap={min_gap} is outside 1..{SIZE - MIN_SIDE}")
    labels = balanced_labels(gen, count)
    short, long = np.empty(count, np.int64), np.empty(count, np.int64)
    todo = np.arange(count)
    while len(todo):
        a, b = gen.integers(MIN_SIDE, SIZE + 1, size=(2, len(todo)))
        ok = np.abs(a - b) >= min_gap
        short[todo[ok]], long[todo[ok]] = np.minimum(a, b)[ok], np.maximum(a, b)[ok]
        todo = todo[~ok]
    height = np.where(labels == 1, long, short)
    width = np.where(labels == 1, short, long)
    top = gen.integers(0, SIZE - height + 1)
    left = gen.integers(0, SIZE - width + 1)
    r = np.arange(SIZE)[None, :, None]
    c = np.arange(SIZE)[None, None, :]
    t, b = top[:, None, None], (top + height - 1)[:, None, None]
    lft, rgt = left[:, None, None], (left + width - 1)[:, None, None]
    inside = (r >= t) & (r <= b) & (c >= lft) & (c <= rgt)
    edge = (r == t) | (r == b) | (c == lft) | (c == rgt)
    return (inside & edge).astype(np.float32), labels


def convex_regions(gen: np.random.Generator, count: int, p: float,
                   min_pixels: int) -> np.ndarray:
    """`count` intersections of Geometric(p) random half-planes with >= min_pixels pixels,
    as masks (count, 784) bool over the pixel centres."""
    out: list[np.ndarray] = []
    have = 0
    while have < count:
        n = 4 * (count - have) + 16
        k = gen.geometric(p, size=n)
        region = np.ones((n, SIZE * SIZE), bool)
        active = np.arange(n)  # regions still being cut and still large enough
        for j in range(int(k.max())):
            active = active[k[active] > j]
            point = gen.uniform(-0.5, SIZE - 0.5, size=(len(active), 2))
            angle = gen.uniform(0.0, 2 * np.pi, size=len(active))
            normal = np.stack([np.cos(angle), np.sin(angle)], 1)
            offset = (normal * point).sum(1)
            cut = region[active]
            cut &= normal @ _CENTRES_T >= offset[:, None]  # (m, 784)
            region[active] = cut
            active = active[np.count_nonzero(cut, axis=1) >= min_pixels]  # cuts only shrink it
        kept = region[(np.count_nonzero(region, axis=1) >= min_pixels) & ~collinear(region)]
        out.append(kept)
        have += len(kept)
    return np.concatenate(out)[:count]


def collinear(masks: np.ndarray) -> np.ndarray:
    """(n,) bool: whether the pixel centres of each mask (n, 784) lie on one line (exact integer
    test: the coordinates' covariance matrix, times n^2, has determinant zero)."""
    m = masks.astype(np.int64)
    r, c = _CENTRES.T.astype(np.int64)
    n, sr, sc = m.sum(1), m @ r, m @ c
    var_r, var_c = n * (m @ (r * r)) - sr * sr, n * (m @ (c * c)) - sc * sc
    cov = n * (m @ (r * c)) - sr * sc
    return var_r * var_c == cov * cov


def is_convex(region: np.ndarray) -> bool:
    """Whether a mask (784,) of non-collinear pixels equals the pixel centres inside the convex
    hull of its own centres."""
    hull = ConvexHull(_CENTRES[region])
    inside = (_CENTRES @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-9).all(1)
    return bool(np.array_equal(inside, region))


def non_convex_regions(gen: np.random.Generator, count: int) -> np.ndarray:
    """`count` non-convex unions of 2..4 convex regions, masks (count, 784) bool."""
    out: list[np.ndarray] = []
    while len(out) < count:
        n = int(1.3 * (count - len(out))) + 16  # about 80% of the unions are not convex
        parts = gen.choice(UNION_SIZES, size=n)
        regions = convex_regions(gen, int(parts.sum()), PART_P, PART_MIN_PIXELS)
        owner = np.repeat(np.arange(n), parts)
        unions = np.zeros((n, SIZE * SIZE), bool)
        np.logical_or.at(unions, owner, regions)
        out.extend(u for u in unions if not is_convex(u))
    return np.stack(out[:count])


def area_matched(gen: np.random.Generator, convex: int, non_convex: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """`convex` convex and `non_convex` non-convex masks whose white-pixel counts have the same
    distribution: drawn in rounds, and per pixel count only as many of each class kept as the
    other class has (the first `min(convex, non_convex)` of each are matched count for count;
    the one extra of an odd total comes from the leftovers of the same round when possible)."""
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    spare: list[np.ndarray] = []
    need, have = min(convex, non_convex), 0
    extra = abs(convex - non_convex)
    while have < need or len(spare) < extra:
        n = 2 * max(need - have, extra) + 64
        a = convex_regions(gen, n, CONVEX_P, CONVEX_MIN_PIXELS)
        b = non_convex_regions(gen, n)
        area_a, area_b = a.sum(1), b.sum(1)
        for area in np.intersect1d(area_a, area_b):
            ia, ib = np.flatnonzero(area_a == area), np.flatnonzero(area_b == area)
            k = min(len(ia), len(ib))
            pairs.append((a[ia[:k]], b[ib[:k]]))
            spare.extend((a if convex > non_convex else b)[
                (ia if convex > non_convex else ib)[k:]])
        have = sum(len(x) for x, _ in pairs)
    order = gen.permutation(have)[:need]
    kept_a = np.concatenate([x for x, _ in pairs])[order]
    kept_b = np.concatenate([y for _, y in pairs])[order]
    more = np.array(spare[:extra]).reshape(extra, SIZE * SIZE)
    if convex > non_convex:
        return np.concatenate([kept_a, more]), kept_b
    return kept_a, np.concatenate([kept_b, more])


def convex_sets(gen: np.random.Generator, count: int,
                match_area: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CONVEX images (count, 28, 28) float32 in {0, 1} and labels (count,) int64 (1 = convex);
    `match_area`: both classes with the same distribution of white-pixel counts."""
    labels = balanced_labels(gen, count)
    images = np.empty((count, SIZE * SIZE), np.float32)
    ones, zeros = int(labels.sum()), int(count - labels.sum())
    if match_area:
        images[labels == 1], images[labels == 0] = area_matched(gen, ones, zeros)
    else:
        images[labels == 1] = convex_regions(gen, ones, CONVEX_P, CONVEX_MIN_PIXELS)
        images[labels == 0] = non_convex_regions(gen, zeros)
    return images.reshape(count, SIZE, SIZE), labels
