"""Multi-hop spaces (FunHashNN, `model.hops=2`): the shared space is itself virtual."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from mfh.harness.config import ConfigError, compose_config, validate
from mfh.harness.models import count_parameters, model_from_config
from mfh.method import HashingSpec, LayerSpec, plan_budget, weight_layers
from mfh.method.virtual import VirtualSpace

LAYERS = [LayerSpec("linear", 12, 9), LayerSpec("linear", 9, 4)]


def two_hops(dtype=torch.float64, **options) -> torch.nn.Sequential:
    torch.manual_seed(0)
    spec = HashingSpec(model="mfh", hashes=4, g_layers=3, compression=0.5, hops=2, **options)
    return torch.nn.Sequential(*weight_layers(spec, LAYERS)).to(dtype)


def test_the_layers_read_a_virtual_space_rebuilt_from_a_stored_one():
    net = two_hops()
    space = net[0].source.space
    assert isinstance(space, VirtualSpace) and net[1].source.space is space
    budget = plan_budget(LAYERS, HashingSpec(model="mfh", hashes=4, g_layers=3,
                                             compression=0.5, hops=2))
    assert space.size == budget.hop_size == round(budget.space_sizes[0] / 0.5)
    assert space.source.space.size == budget.space_sizes[0]   # what is stored


def test_two_hop_gradients_are_exact_in_float64():
    net = two_hops()
    x = torch.randn(3, 12, dtype=torch.float64)
    names = [n for n, _ in net.named_parameters()]
    assert any("source.space.source" in n for n in names)   # w2 and g2 are parameters

    def out(*values):
        return functional_call(net, dict(zip(names, values, strict=True)), (x,))

    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(out, params)


@pytest.mark.parametrize("arch", ["mlp3", "cnn"])
def test_realised_ratio_counts_only_what_is_stored(arch):
    cfg = compose_config(["model=mfh", "model.hops=2", f"arch={arch}"])
    shape = (1, 28, 28)
    model = model_from_config(cfg, shape, 10)
    virtual = 795010 if arch == "mlp3" else sum(
        p.numel() for p in model_from_config(compose_config([f"arch={arch}"]), shape,
                                             10).parameters())
    assert count_parameters(model) == round(0.125 * virtual)
    assert validate(cfg).label == "U4-G3-H2"


def test_one_hop_is_todays_mfh_bit_for_bit():
    x = torch.randn(5, 12)
    nets = []
    for spec in (HashingSpec(compression=0.5), HashingSpec(compression=0.5, hops=1,
                                                           hop_ratio=0.3)):
        torch.manual_seed(0)
        nets.append(torch.nn.Sequential(*weight_layers(spec, LAYERS)))
    a, b = nets
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert torch.equal(a(x), b(x))
    plain, hop1 = (validate(compose_config(o)) for o in (["model=mfh"],
                                                         ["model=mfh", "model.hops=1"]))
    assert plain.signature == hop1.signature and plain.label == hop1.label == "U4-G3"


def test_two_hops_need_the_shared_space():
    for bad in (["model.space=per_layer"], ["model.dual=true"]):
        with pytest.raises(ConfigError, match="model.hops=2"):
            validate(compose_config(["model=mfh", "model.hops=2", *bad]))
