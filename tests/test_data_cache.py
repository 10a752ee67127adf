"""The on-disk cache of generated sets: keyed by config + data_seed, checksummed, self-repairing."""

import json
from pathlib import Path

import pytest
import torch

from mfh.data import Splits, load_splits
from mfh.data.cache import cache_key
from mfh.harness.config import compose_config, data_spec

OVERRIDES = ["dataset=rect", "dataset.test_size=50"]


def _load(data_dir: Path, *extra: str) -> Splits:
    return load_splits(data_spec(compose_config([*OVERRIDES, f"data_dir={data_dir}", *extra])))


def _folders(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "cache").iterdir())


def _same(a: Splits, b: Splits) -> bool:
    return all(torch.equal(getattr(a, p).x, getattr(b, p).x) and
               torch.equal(getattr(a, p).y, getattr(b, p).y) for p in ("train", "valid", "test"))


def test_first_load_builds_then_reads_the_cache(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    built = _load(tmp_path)
    assert "building dataset rect" in capsys.readouterr().out
    (folder,) = _folders(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["dataset"]["name"] == "rect" and meta["data_seed"] == 0
    assert len(meta["sha256"]) == 64
    again = _load(tmp_path)
    assert capsys.readouterr().out == "" and _same(built, again)


def test_key_depends_on_config_and_data_seed(tmp_path: Path) -> None:
    _load(tmp_path)
    _load(tmp_path, "data_seed=1")
    _load(tmp_path, "dataset.min_gap=5")
    assert len(_folders(tmp_path)) == 3
    ds = {"name": "rect", "test_size": 50}
    assert cache_key(ds, 0) == cache_key(dict(reversed(ds.items())), 0) != cache_key(ds, 1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "no_data", "bad_meta"])
def test_a_corrupt_cache_is_detected_and_repaired(tmp_path: Path, damage: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    built = _load(tmp_path)
    (folder,) = _folders(tmp_path)
    data = folder / "data.npz"
    if damage == "flip":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        data.write_bytes(data.read_bytes()[:1000])
    elif damage == "no_data":
        data.unlink()
    else:
        (folder / "meta.json").write_text("{not json")
    capsys.readouterr()
    repaired = _load(tmp_path)
    assert "corrupt" in capsys.readouterr().out
    assert _same(built, repaired)
    _load(tmp_path)
    assert capsys.readouterr().out == ""  # the repaired cache verifies again
