"""The layout: the method library stands alone, the package's face, scripts import their own
checkout, and the training loop's schedule."""

import shutil
import subprocess
import sys

import pytest
import torch
from conftest import ROOT
from torch import nn

import mfh
from mfh.harness.specs import OptimSpec
from mfh.harness.train import make_optimizers, set_decayed_lr
from mfh.method import HashingSpec, LayerSpec, Reconstruction, weight_layers
from mfh.method.specs import format_label, parse_label


def test_method_imports_neither_hydra_nor_omegaconf():
    code = ("import sys, mfh.method, mfh.method.kernels; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_public_api_builds_a_hashed_network_without_configs():
    assert mfh.HashedLinear is mfh.method.HashedLinear
    torch.manual_seed(0)
    layers = weight_layers(HashingSpec(model="mfh", hashes=4, g_layers=3, compression=0.125),
                           [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)])
    assert [type(layer) for layer in layers] == [mfh.HashedLinear, mfh.HashedLinear]
    net = nn.Sequential(layers[0], nn.ReLU(), layers[1])
    assert net(torch.rand(3, 784)).shape == (3, 10)
    stored = sum(p.numel() for p in net.parameters())
    assert abs(stored / (785 * 1000 + 1001 * 10) - 0.125) < 0.00125
    assert any(isinstance(m, Reconstruction) for m in net.modules())


def test_label_grammar_round_trips():
    for hashes, g_layers, dual in [(1, 3, False), (4, 3, True), (16, 2, False)]:
        parts = parse_label(format_label("mfh", hashes, g_layers, dual))
        assert (parts.hashes, parts.g_layers, parts.dual) == (hashes, g_layers, dual)
    assert format_label("hashednets") == "HashedNets" and parse_label("HashedNets") is None
    assert HashingSpec(model="mfh", hashes=4, g_layers=2, dual=True).label == "U4-G2-D"


def test_scripts_import_the_checkout_they_live_in(tmp_path):
    for folder in ("mfh", "conf", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    script = str(tmp_path / "scripts" / "tables.py")
    code = ("import runpy, sys\n"
            "sys.argv = ['tables.py', '--help']\n"
            "try:\n"
            f"    runpy.run_path({script!r}, run_name='__main__')\n"
            "except SystemExit:\n"
            "    pass\n"
            "import mfh.harness.config as c\n"
            "print(c.__file__)\nprint(c.CONF_DIR)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[-2] == str(tmp_path / "mfh" / "harness" / "config.py")
    assert out[-1] == str(tmp_path / "conf")


def test_both_optimizers_follow_the_decay_schedule():
    model = nn.Sequential(nn.Linear(3, 2), Reconstruction([4, 2, 1]))
    optimizers = make_optimizers(model, OptimSpec(lr=0.1, g_lr=0.01, lr_decay=0.5))
    assert [type(o) for o in optimizers] == [torch.optim.SGD, torch.optim.Adam]
    set_decayed_lr(optimizers, 0.5, 4)   # 1 / (1 + 0.5 * 4) = 1/3
    assert optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 / 3)
    assert optimizers[1].param_groups[0]["lr"] == pytest.approx(0.01 / 3)
