"""Hashed layers: gradients, the HashedNets / MFH identity, the conv layer and the budget."""

import math

import pytest
import torch
import torch.nn.functional as F

from mfh.harness.config import compose_config, model_specs
from mfh.harness.models import count_parameters, layer_specs, model_from_config
from mfh.method import BudgetError, HashingSpec, LayerSpec, plan_budget
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.reconstruction import Reconstruction, g_param_bounds, g_widths
from mfh.method.space import CompressionSpace
from mfh.method.virtual import FunctionalWeight, HashedNetsWeight, HashPairs


def hashednets_linear(fan_in: int, out: int, buckets: int, dtype=torch.float64) -> HashedLinear:
    space = CompressionSpace(buckets, 1 / math.sqrt(fan_in)).to(dtype)
    pairs = HashPairs(0, 1, out, fan_in, buckets, seed=1691)
    return HashedLinear(fan_in, out, HashedNetsWeight(space, pairs)).to(dtype)


def mfh_linear(fan_in: int, out: int, buckets: int, hashes: int, g_layers: int, dual: bool,
               g_bias: bool = False, dtype=torch.float64, layer: int = 0) -> HashedLinear:
    space = CompressionSpace(buckets, 1 / math.sqrt(fan_in))
    pairs = HashPairs(layer, hashes, out, fan_in, buckets, seed=7)
    widths = g_widths(hashes, g_layers)
    dual_parts = None
    if dual:
        bounds = g_param_bounds(widths, 0.1 if g_bias else None)
        dual_space = CompressionSpace(13, 1.0)
        dual_parts = (dual_space, HashPairs(layer, len(bounds), out, fan_in, 13, 7, dual=True),
                      bounds, widths, g_bias)
    g = Reconstruction(widths, g_bias) if g_layers > 1 and not dual else None
    source = FunctionalWeight(space, pairs, g, 1.3, dual_parts)
    return HashedLinear(fan_in, out, source).to(dtype)


def test_hashednets_gradcheck():
    torch.manual_seed(0)
    layer = hashednets_linear(6, 5, 7)
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: F.linear(x, layer.source(), layer.bias),
                                    (x, layer.source.space.w, layer.bias))
    assert torch.autograd.gradcheck(layer, (x,))


def test_bucket_gradient_is_signed_sum_of_dense_gradient():
    torch.manual_seed(0)
    layer = hashednets_linear(20, 15, 11)
    x = torch.randn(4, 20, dtype=torch.float64)
    virtual = layer.source().detach().requires_grad_(True)
    F.linear(x, virtual, layer.bias).pow(2).sum().backward()
    layer(x).pow(2).sum().backward()
    index, sign = layer.source.hashes()
    expected = torch.zeros(11, dtype=torch.float64)
    for k, (bucket, s) in enumerate(zip(index[0].tolist(), sign[0].tolist(), strict=True)):
        expected[bucket] += s * virtual.grad.reshape(-1)[k]
    torch.testing.assert_close(layer.source.space.w.grad, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("g_bias", [False, True])
@pytest.mark.parametrize("g_layers,dual", [(2, False), (3, False), (4, False), (2, True),
                                           (3, True), (4, True)])
def test_mfh_gradcheck(g_layers, dual, g_bias):
    torch.manual_seed(0)
    layer = mfh_linear(5, 4, 9, hashes=4, g_layers=g_layers, dual=dual, g_bias=g_bias)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    params = [p for p in layer.parameters()]
    assert torch.autograd.gradcheck(lambda x, *p: layer(x), (x, *params))


def test_w_gradient_equals_chain_rule_over_every_hash():
    """Independent slow loop: dL/dw[k] = sum over (i, j, u) with h_u(i,j) = k of
    dL/dV_ij * s * dg/dz_u * xi_u(i, j)."""
    torch.manual_seed(0)
    hashes, rows, cols, buckets = 4, 3, 5, 7
    layer = mfh_linear(cols, rows, buckets, hashes=hashes, g_layers=3, dual=False, g_bias=True)
    x = torch.randn(2, cols, dtype=torch.float64)
    layer(x).pow(2).sum().backward()
    virtual = layer.source().detach().requires_grad_(True)
    F.linear(x, virtual, layer.bias).pow(2).sum().backward()
    w, g, scale = layer.source.space.w.detach(), layer.source.g, layer.source.scale
    index, sign = layer.source.hashes()
    expected = torch.zeros(buckets, dtype=torch.float64)
    for i in range(rows):
        for j in range(cols):
            n = i * cols + j
            z = torch.stack([sign[u, n] * w[index[u, n]] for u in range(hashes)])
            z = z.double().requires_grad_(True)
            (grad_z,) = torch.autograd.grad(g(z.unsqueeze(1)).squeeze(), z)
            for u in range(hashes):
                expected[index[u, n]] += virtual.grad[i, j] * scale * grad_z[u] * sign[u, n]
    torch.testing.assert_close(layer.source.space.w.grad, expected, rtol=1e-10, atol=1e-12)


def hashed_cfg(name: str, **extra: str) -> list[str]:
    return [f"model={name}", "model.space=per_layer", *(f"{k}={v}" for k, v in extra.items())]


def test_hashednets_equals_mfh_u1_identity_bit_for_bit():
    x = torch.rand(8, 1, 28, 28)
    outputs, grads = [], []
    for overrides in (["model=hashednets"],
                      ["model=mfh", "hashes=1", "model.g_layers=1", "model.space=per_layer"]):
        torch.manual_seed(3)
        model = model_from_config(compose_config(overrides), (1, 28, 28), 10).eval()
        out = model(x)
        out.square().sum().backward()
        outputs.append(out)
        grads.append([p.grad for p in model.parameters()])
    assert torch.equal(outputs[0], outputs[1])
    assert len(grads[0]) == len(grads[1]) == 4
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)


def test_conv_layer_equals_conv2d_with_virtual_weight():
    torch.manual_seed(0)
    space = CompressionSpace(50, 0.2)
    pairs = HashPairs(2, 4, 6, 3 * 3 * 3, 50, seed=5)
    source = FunctionalWeight(space, pairs, Reconstruction(g_widths(4, 3), bias=True), 1.0)
    conv = HashedConv2d(3, 6, (3, 3), source, stride=2, padding=1)
    x = torch.randn(2, 3, 9, 9)
    kernel = source().reshape(6, 3, 3, 3)
    torch.testing.assert_close(conv(x), F.conv2d(x, kernel, conv.bias, stride=2, padding=1),
                               rtol=0, atol=0)


def test_hash_bias_reads_bias_from_last_column():
    torch.manual_seed(0)
    space = CompressionSpace(30, 0.3)
    source = HashedNetsWeight(space, HashPairs(0, 1, 4, 6, 30, seed=1))
    layer = HashedLinear(5, 4, source, hash_bias=True)
    x = torch.randn(3, 5)
    matrix = source()
    assert layer.bias is None
    torch.testing.assert_close(layer(x), x @ matrix[:, :5].T + matrix[:, 5])


def test_recomputed_indices_equal_precomputed():
    pre = HashPairs(1, 3, 10, 12, 77, seed=9)
    post = HashPairs(1, 3, 10, 12, 77, seed=9, mode="recomputed")
    for a, b in zip(pre(), post(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("overrides", [
    ["model=hashednets"], ["model=hashednets", "model.hash_bias=true"],
    ["model=mfh"], ["model=mfh", "hashes=16", "model.g_scope=layer"],
    ["model=mfh", "model.dual=true"], ["model=mfh", "model.space=per_layer", "model.dual=true"],
    ["model=mfh", "model.g_bias=true", "model.g_scope=layer"],
    ["model=mfh", "arch=cnn"], ["model=mfh", "arch=mlp5", "compression=0.015625"],
])
def test_realised_compression_ratio(overrides):
    cfg = compose_config(overrides)
    shape = (3, 32, 32) if "arch=cnn" in overrides else (1, 28, 28)
    model = model_from_config(cfg, shape, 10)
    virtual = sum(s.virtual for s in layer_specs(model_specs(cfg)[0], shape, 10))
    ratio = count_parameters(model) / virtual
    assert abs(ratio - cfg.compression) / cfg.compression < 0.01


def test_budget_too_small_is_a_clear_error():
    specs = [LayerSpec("linear", 10, 10)]
    with pytest.raises(BudgetError, match="raise compression"):
        plan_budget(specs, HashingSpec("hashednets", 1, 0.05, "per_layer", 1))
