"""`step_scale=layer` (issue 25): layer l's gradient into a shared w is scaled by 1 / s_l^2,
so an SGD step moves its virtual weights as far as HashedNets'; the forward is unchanged."""

from __future__ import annotations

import pytest
import torch

from mfh.method import HashingSpec, LayerSpec, weight_layers
from mfh.method.specs import SpecError

LAYERS = [LayerSpec("linear", 100, 30), LayerSpec("linear", 30, 10)]   # s = 1, sqrt(100 / 30)


def _grads(step_scale: str, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(virtual weight, gradient of w) of `layer` alone, backward of sum(V * R)."""
    torch.manual_seed(0)
    modules = weight_layers(HashingSpec(compression=0.5, step_scale=step_scale), LAYERS)
    source = modules[layer].source
    v = source()
    v.backward(torch.randn(v.shape, generator=torch.Generator().manual_seed(1)))
    return v.detach(), source.space.w.grad


@pytest.mark.parametrize("layer", [0, 1])
def test_layer_gradient_into_w_is_divided_by_the_layer_scale_squared(layer):
    v_none, g_none = _grads("none", layer)
    v_layer, g_layer = _grads("layer", layer)
    assert torch.equal(v_none, v_layer)   # the forward is the same, bit for bit
    s2 = 100 / LAYERS[layer].fan_in
    torch.testing.assert_close(g_layer, g_none / s2, rtol=1e-6, atol=0)


def test_step_scale_needs_a_shared_space_with_a_layer_scale():
    for options in ({"space": "per_layer"}, {"layer_scale": "none"}):
        with pytest.raises(SpecError, match="model.step_scale=layer undoes the layer scale"):
            HashingSpec(step_scale="layer", **options)
    with pytest.raises(SpecError, match="model.step_scale='fan_in' is not allowed"):
        HashingSpec(step_scale="fan_in")
