"""RECT and CONVEX: labels checked against independent measurements of the drawn images."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.morphology import convex_hull_image

from mfh.data import Splits, load_splits
from mfh.harness.config import compose_config, data_spec


def _load(name: str, data_dir: Path, *overrides: str) -> Splits:
    sizes = ["dataset.train_size=400", "dataset.valid_size=100", "dataset.test_size=101"]
    return load_splits(data_spec(compose_config([f"dataset={name}", f"data_dir={data_dir}", *sizes,
                                       *overrides])))


@pytest.fixture(scope="module")
def rect(tmp_path_factory: pytest.TempPathFactory) -> Splits:
    return _load("rect", tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def convex(tmp_path_factory: pytest.TempPathFactory) -> Splits:
    return _load("convex", tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("name", ["rect", "convex"])
def test_shapes_ranges_and_exact_balance(name: str, request: pytest.FixtureRequest) -> None:
    s: Splits = request.getfixturevalue(name)
    assert s.name == name and s.num_classes == 2 and s.shape == (1, 28, 28)
    assert (len(s.train), len(s.valid), len(s.test)) == (400, 100, 101)
    for part in (s.train, s.valid, s.test):
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert set(part.x.unique().tolist()) == {0.0, 1.0}  # binary images
        assert part.y.sum() == len(part) // 2  # half of each class (the odd one is a 0)


def test_paper_sizes_are_the_defaults() -> None:
    rect, convex = (compose_config([f"dataset={n}"]).dataset for n in ("rect", "convex"))
    assert (rect.train_size, rect.valid_size, rect.test_size) == (1000, 200, 50000)
    assert (convex.train_size, convex.valid_size, convex.test_size) == (6500, 1500, 50000)


def test_rect_labels_match_the_measured_rectangle(rect: Splits) -> None:
    for image, label in zip(rect.train.x[:, 0].numpy(), rect.train.y.tolist(), strict=True):
        rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
        top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
        height, width = bottom - top + 1, right - left + 1
        outline = np.zeros_like(image)
        outline[top: bottom + 1, [left, right]] = 1
        outline[[top, bottom], left: right + 1] = 1
        assert np.array_equal(image, outline)  # exactly one 1-pixel rectangle outline
        assert abs(height - width) >= 3 and label == int(height > width)


def test_convex_labels_match_a_convex_hull_check(convex: Splits) -> None:
    for image, label in zip(convex.train.x[:, 0].numpy() > 0.5, convex.train.y.tolist(),
                            strict=True):
        hull = convex_hull_image(image, offset_coordinates=False)
        assert label == int(np.array_equal(hull, image))
        if label == 1:
            assert image.sum() >= 19


def best_threshold_accuracy(areas: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the best rule "label = (area < t)" or "(area >= t)" over all thresholds t."""
    best = 0.0
    for t in np.unique(areas):
        below = (areas < t) == labels.astype(bool)
        best = max(best, below.mean(), 1 - below.mean())
    return float(best)


def test_convex_pixel_count_carries_no_label_information(tmp_path: Path, convex: Splits) -> None:
    for part in (convex.train, convex.valid):   # even sizes: the two classes match exactly
        areas, y = part.x.flatten(1).sum(1).numpy(), part.y.numpy()
        assert sorted(areas[y == 1]) == sorted(areas[y == 0])
    # the unmatched generator (Larochelle et al.'s published parameters): area alone is a clue
    raw = _load("convex", tmp_path, "dataset.match_area=false").train
    fit = best_threshold_accuracy(raw.x.flatten(1).sum(1).numpy(), raw.y.numpy())
    matched = best_threshold_accuracy(convex.train.x.flatten(1).sum(1).numpy(),
                                      convex.train.y.numpy())
    assert fit > 0.65 and matched < 0.56


def test_shapes_are_deterministic_per_data_seed(tmp_path: Path, rect: Splits,
                                                convex: Splits) -> None:
    for name, s in (("rect", rect), ("convex", convex)):
        assert torch.equal(_load(name, tmp_path / "a").train.x, s.train.x)
        assert not torch.equal(_load(name, tmp_path / "b", "data_seed=3").train.x, s.train.x)


def test_rect_refuses_an_impossible_gap(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="min_gap=26"):
        _load("rect", tmp_path, "dataset.min_gap=26")
