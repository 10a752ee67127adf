"""The fused kernels as PyTorch operators: opcheck, and torch.compile(fullgraph=True) agrees
with eager in outputs and gradients."""

import pytest
import torch

from mfh.harness.config import compose_config
from mfh.harness.models import model_from_config
from mfh.method import kernels
from mfh.method.virtual import FunctionalWeight, HashedNetsWeight

pytestmark = pytest.mark.skipif(kernels.backend() != "native", reason="native kernels not built")

MODELS = [["model=hashednets"], ["model=mfh"], ["model=mfh", "model.dual=true"],
          ["model=mfh", "model.index_mode=recomputed"], ["model=mfh", "model.g_bias=true"]]


def sources(overrides: list[str], dtype: torch.dtype) -> list[torch.nn.Module]:
    torch.manual_seed(0)
    model = model_from_config(compose_config(overrides), (1, 28, 28), 10).to(dtype)
    return [m for m in model.modules() if isinstance(m, (HashedNetsWeight, FunctionalWeight))]


def op_args(source: torch.nn.Module) -> tuple:
    """The arguments `mfh::virtual_weight` receives for one virtual weight, as in its forward."""
    calls = []
    original = kernels.virtual_weight

    def spy(plan, w, g=None, w2=None):
        calls.append((w, g, w2, *kernels._plan_args(plan)))
        return original(plan, w, g, w2)

    kernels.virtual_weight = spy
    try:
        source()
    finally:
        kernels.virtual_weight = original
    return calls[0]


@pytest.mark.parametrize("overrides", MODELS)
def test_opcheck_virtual_weight(overrides):
    for source in sources(overrides, torch.float64)[-1:]:   # the small output layer
        args = op_args(source)
        torch.library.opcheck(torch.ops.mfh.virtual_weight.default, args)
        # the backward operator has no derivative of its own (it is never differentiated)
        plain = [a.detach() if isinstance(a, torch.Tensor) else a for a in args]
        grad_out = torch.randn(args[9], dtype=torch.float64)
        needs = (True, plain[1] is not None, plain[2] is not None)
        torch.library.opcheck(torch.ops.mfh.virtual_weight_backward.default,
                              (grad_out, *plain, *needs))


@pytest.mark.parametrize("overrides", MODELS[:3])
def test_compiled_net_equals_eager_in_outputs_and_gradients(overrides):
    torch.manual_seed(0)
    model = model_from_config(compose_config(overrides), (1, 28, 28), 10).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))

    def step(net):
        model.zero_grad(set_to_none=True)
        out = net(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    eager_out, eager_grads = step(model)
    torch._dynamo.reset()
    compiled_out, compiled_grads = step(torch.compile(model, fullgraph=True, backend="aot_eager"))
    assert torch.equal(compiled_out, eager_out)
    for a, b in zip(compiled_grads, eager_grads, strict=True):
        assert torch.equal(a, b)


def test_kernel_constants_are_checked_at_load_time():
    lib = kernels.library()
    assert (lib.mfh_lanes(), lib.mfh_max_width(), lib.mfh_max_layers()) == (
        kernels.LANES, kernels.MAX_SLOTS, kernels.MAX_G_LAYERS)
