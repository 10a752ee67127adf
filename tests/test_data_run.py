"""`run.py dataset=<name>` trains one short epoch on every dataset available on this machine."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mfh.data.torchvision_sets import FASHION_MNIST_DIR

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ["basic", "rot", "bg_rand", "bg_img", "bg_img_rot", "rect", "convex"]
FILES = ["mnist5k"] + (["fashion_mnist"] if Path(FASHION_MNIST_DIR).is_dir() else [])


def _sweep(tmp_path: Path, names: list[str], *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "run.py", "-m", f"dataset={','.join(names)}", "epochs=1",
               "train_limit=200", "logger=none", f"results_dir={tmp_path / 'results'}",
               f"data_dir={tmp_path / 'data'}", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _datasets_with_ok_records(tmp_path: Path) -> set[str]:
    records = [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs").glob("*/*.json")]
    return {r["config"]["dataset"]["name"] for r in records if r["status"] == "ok"}


@pytest.mark.parametrize("names,sizes", [
    (GENERATED, ["++dataset.train_size=200", "++dataset.valid_size=50",
                 "++dataset.test_size=100"]),
    (FILES, []),
], ids=["generated", "files"])
def test_run_trains_one_epoch_on_each_dataset(tmp_path: Path, names: list[str],
                                              sizes: list[str]) -> None:
    done = _sweep(tmp_path, names, *sizes)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _datasets_with_ok_records(tmp_path) == set(names)


def test_run_names_the_missing_files(tmp_path: Path) -> None:
    command = [sys.executable, "run.py", "dataset=cifar10", "logger=none",
               f"results_dir={tmp_path / 'results'}", f"data_dir={tmp_path / 'data'}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert str((tmp_path / "data").resolve() / "cifar-10-batches-py") in done.stderr
    assert "download=true" in done.stderr
