"""g's initialisation (issue 25): every layer's virtual weights start at the HashedNets scale of
that layer, on every seed, for every MFH configuration; the old sign init stays available."""

from __future__ import annotations

import math

import pytest
import torch

from mfh.harness.config import compose_config, model_specs
from mfh.harness.models import layer_specs
from mfh.method import HashingSpec, LayerSpec, weight_layers
from mfh.method.reconstruction import Reconstruction, g_widths, orthonormal_rows
from mfh.method.specs import parse_label

SEEDS = range(64)
MLP = [LayerSpec("linear", 784, 100), LayerSpec("linear", 100, 100),
       LayerSpec("linear", 100, 100), LayerSpec("linear", 100, 10)]   # mlp5_100's shapes
LABELS = ["U1-G3", "U2-G3", "U4-G2", "U4-G3", "U4-G4", "U8-G3", "U16-G3", "U4-G3-D", "U4-G3-H2"]


def _spec(label: str, **options: object) -> HashingSpec:
    if label == "HashedNets":
        return HashingSpec(model="hashednets")
    parts = parse_label(label)
    return HashingSpec(hashes=parts.hashes, g_layers=parts.g_layers, dual=parts.dual,
                       hops=parts.hops, **options)


def _layer_stds(spec: HashingSpec, layers: list[LayerSpec], seed: int) -> list[float]:
    """The standard deviation of each layer's virtual weights at initialisation."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return [module.source().std().item() for module in weight_layers(spec, layers)]


def _hashednets_scale(layers: list[LayerSpec]) -> list[float]:
    """HashedNets' standard deviation per layer, averaged over the seeds."""
    per_seed = [_layer_stds(_spec("HashedNets"), layers, s) for s in SEEDS]
    scale = [sum(col) / len(col) for col in zip(*per_seed, strict=True)]
    # and that is the analytic scale of a U(-1/sqrt(fan_in), 1/sqrt(fan_in)) space
    for std, layer in zip(scale, layers, strict=True):
        assert std == pytest.approx(1 / math.sqrt(3 * layer.fan_in), rel=0.02)
    return scale


@pytest.fixture(scope="module")
def mlp_scale() -> list[float]:
    return _hashednets_scale(MLP)


def _assert_within_10_percent(spec: HashingSpec, layers: list[LayerSpec],
                              scale: list[float]) -> None:
    for seed in SEEDS:
        stds = _layer_stds(spec, layers, seed)
        ratios = [s / h for s, h in zip(stds, scale, strict=True)]
        assert all(0.9 < r < 1.1 for r in ratios), (spec.label, seed, ratios)


@pytest.mark.parametrize("label", LABELS)
def test_every_seed_starts_at_the_hashednets_scale(label, mlp_scale):
    _assert_within_10_percent(_spec(label), MLP, mlp_scale)


def test_one_g_per_layer_starts_at_the_hashednets_scale(mlp_scale):
    _assert_within_10_percent(_spec("U4-G3", g_scope="layer"), MLP, mlp_scale)


def test_the_cnn_layers_start_at_the_hashednets_scale():
    arch, _ = model_specs(compose_config(["arch=cnn"]))
    layers = layer_specs(arch, (1, 28, 28), 10)
    assert [layer.kind for layer in layers] == ["conv"] * 3 + ["linear"] * 2
    scale = _hashednets_scale(layers)
    _assert_within_10_percent(_spec("U4-G3"), layers, scale)


def test_the_sign_init_is_kept_and_starts_dead_on_seed_4():
    """The behaviour of the records made before issue 25 (`g_init=sign`): U4-G3 on seed 4 has
    zero linear gain on the 3-layer net, so its virtual weights start (almost) at zero."""
    mlp3 = [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)]
    stds = _layer_stds(_spec("U4-G3", g_init="sign"), mlp3, 4)
    assert max(stds) < 0.01 / math.sqrt(784)
    alive = _layer_stds(_spec("U4-G3"), mlp3, 4)
    assert min(alive) > 0.5 / math.sqrt(1000)


@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 2), (2, 4), (4, 4), (8, 16), (16, 16)])
def test_orthonormal_rows(rows, cols):
    torch.manual_seed(0)
    q = orthonormal_rows(rows, cols).double()
    torch.testing.assert_close(q @ q.T, torch.eye(rows, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.manual_seed(0)
    assert torch.equal(orthonormal_rows(rows, cols), q.float())   # same draw, same bits


@pytest.mark.parametrize("hashes", [1, 2, 3, 4, 8, 16])
@pytest.mark.parametrize("g_layers", [2, 3, 4])
def test_gs_linear_gain_is_one(hashes, g_layers):
    """c = A_1^T ... A_G^T, g's linearisation at z = 0, has unit norm on every seed (float64)."""
    for seed in range(16):
        torch.manual_seed(seed)
        g = Reconstruction(g_widths(hashes, g_layers)).double()
        c = torch.eye(hashes, dtype=torch.float64)
        for layer in g.layers:
            c = layer.weight @ c
        assert torch.linalg.vector_norm(c).item() == pytest.approx(1.0, abs=1e-6)


def test_an_unknown_init_is_refused():
    with pytest.raises(ValueError, match="g_init='xavier' is not allowed"):
        Reconstruction([4, 2, 1], init="xavier")
