"""Larochelle variants over MNIST-5k: shapes, ranges, balance, determinism, set statistics."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms.functional import InterpolationMode
from torchvision.transforms.functional import rotate as tv_rotate

from mfh.data import Splits, load_splits
from mfh.data.backgrounds import background_patches
from mfh.data.variants import KINDS, rotate
from mfh.harness.config import compose_config, data_spec

SMALL = ["dataset.train_size=300", "dataset.valid_size=100", "dataset.test_size=200"]


def _load(kind: str, data_dir: Path, *overrides: str) -> Splits:
    return load_splits(data_spec(compose_config([f"dataset={kind}", f"data_dir={data_dir}", *SMALL,
                                       *overrides])))


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Splits]:
    data_dir = tmp_path_factory.mktemp("data")
    return {kind: _load(kind, data_dir) for kind in KINDS}


def _orientation(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Major-axis angle (radians) and eccentricity (eigenvalue ratio) of images (N, 1, H, W)
    from their central second moments."""
    img = x[:, 0].double().numpy()
    r, c = np.mgrid[: img.shape[1], : img.shape[2]]
    m = img.sum((1, 2))
    cr, cc = (img * r).sum((1, 2)) / m, (img * c).sum((1, 2)) / m
    dr, dc = r - cr[:, None, None], c - cc[:, None, None]
    mu20, mu02 = (img * dr**2).sum((1, 2)) / m, (img * dc**2).sum((1, 2)) / m
    mu11 = (img * dr * dc).sum((1, 2)) / m
    angle = 0.5 * np.arctan2(2 * mu11, mu20 - mu02)
    spread = np.sqrt(4 * mu11**2 + (mu20 - mu02) ** 2)
    return angle, (mu20 + mu02 + spread) / (mu20 + mu02 - spread)


def test_shapes_ranges_and_labels(sets: dict[str, Splits]) -> None:
    for kind, s in sets.items():
        assert s.name == kind and s.num_classes == 10 and s.shape == (1, 28, 28)
        assert (len(s.train), len(s.valid), len(s.test)) == (300, 100, 200)
        for name in ("train", "valid", "test"):
            part = getattr(s, name)
            assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64
            assert 0 <= part.x.min() and part.x.max() <= 1
            assert torch.equal(part.y, getattr(sets["basic"], name).y)  # same digits, same order
        counts = s.train.y.bincount(minlength=10)
        assert counts.min() >= 15 and counts.max() <= 50  # about 30 per class


def test_default_sizes_follow_the_mnist5k_split(tmp_path: Path) -> None:
    s = load_splits(data_spec(compose_config(["dataset=basic", f"data_dir={tmp_path}"])))
    assert (len(s.train), len(s.valid), len(s.test)) == (3200, 800, 1000)
    digits = load_splits(data_spec(compose_config(["dataset=mnist5k"])))
    assert torch.equal(s.test.x, digits.test.x) and torch.equal(s.train.y, digits.train.y)


def test_too_large_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train_size=4000"):
        load_splits(data_spec(compose_config(["dataset=rot", f"data_dir={tmp_path}",
                                    "dataset.train_size=4000"])))


def test_same_seed_same_bytes_other_seed_other_images(tmp_path: Path,
                                                      sets: dict[str, Splits]) -> None:
    for kind in ("rot", "bg_img"):
        again = _load(kind, tmp_path / "fresh")  # a new data_dir: rebuilt, not read back
        assert torch.equal(again.train.x, sets[kind].train.x)
        assert torch.equal(again.test.x, sets[kind].test.x)
        other = _load(kind, tmp_path / "fresh", "data_seed=1")
        assert not torch.equal(other.train.x, sets[kind].train.x)


def test_bg_rand_background_is_uniform_and_digit_kept(sets: dict[str, Splits]) -> None:
    digit, noisy = sets["basic"].train.x, sets["bg_rand"].train.x
    background = noisy[digit == 0]
    assert abs(background.mean().item() - 0.5) < 0.01
    assert abs(background.std().item() - (1 / 12) ** 0.5) < 0.01
    assert (noisy >= digit - 1e-6).all()  # max(digit, background)
    assert (noisy[digit == 1] == 1).all()


def test_bg_img_backgrounds_are_textured_patches(sets: dict[str, Splits]) -> None:
    cfg = compose_config(["dataset=bg_img"]).dataset
    patches = background_patches(np.random.default_rng(0), 500, list(cfg.images),
                                 cfg.image_scale, cfg.min_patch_std)
    assert patches.shape == (500, 28, 28) and patches.min() >= 0 and patches.max() <= 1
    assert patches.std(axis=(1, 2)).min() >= cfg.min_patch_std - 1e-5
    assert (sets["bg_img"].train.x >= sets["basic"].train.x - 1e-6).all()  # max(digit, patch)
    digit = sets["basic"].train.x.flatten(1)
    for image, mask in zip(sets["bg_img"].train.x.flatten(1), digit == 0, strict=True):
        assert image[mask].std() > 0.02  # a textured background in every image
    assert sets["bg_img_rot"].train.x.flatten(1).std(1).min() > 0.05


def test_rotate_matches_torchvision() -> None:
    x = torch.rand(3, 1, 28, 28)
    angles = torch.tensor([0.3, 2.0, 5.5])
    batched = rotate(x, angles)
    for i, a in enumerate(angles.tolist()):
        one = tv_rotate(x[i: i + 1], float(np.degrees(a)), interpolation=InterpolationMode.BILINEAR)
        torch.testing.assert_close(batched[i: i + 1], one, atol=1e-5, rtol=0)


def test_rotate_turns_the_principal_axis() -> None:
    digits = load_splits(data_spec(compose_config(["dataset=mnist5k"]))).train.x[:400]
    angle0, ecc = _orientation(digits)
    keep = ecc > 3  # elongated digits have a well-defined axis
    turn = torch.full((len(digits),), 0.7)
    angle1, _ = _orientation(rotate(digits, turn))
    delta = np.angle(np.exp(2j * (angle1 - angle0)))[keep] / 2  # axis change in (-pi/2, pi/2]
    # A counter-clockwise turn on screen takes the downward row axis towards the column axis.
    assert np.median(np.abs(delta - 0.7)) < 0.02


def test_rot_digits_are_rotated_uniformly(sets: dict[str, Splits]) -> None:
    angle0, ecc = _orientation(sets["basic"].train.x)
    angle1, _ = _orientation(sets["rot"].train.x)
    keep = ecc > 3
    turns = np.exp(2j * (angle1 - angle0))[keep]  # doubled axis change, uniform on the circle
    assert abs(turns.mean()) < 0.25 and np.mean(np.abs(np.angle(turns)) > 0.6) > 0.6
    # mass is preserved up to the corners cut off by the rotation
    ratio = sets["rot"].train.x.sum((1, 2, 3)) / sets["basic"].train.x.sum((1, 2, 3))
    assert ratio.min() > 0.85 and ratio.max() < 1.1
