"""The fused kernels (mfh.method.kernels) compute what the pure-PyTorch reference path computes.

Outputs and gradients of every kind of virtual weight are compared between the two backends
(float64 tightly, float32 to rounding), gradchecked on the native path, checked for determinism
and thread-count independence, and the packed hash codes are checked against mfh.method.hashing.
Also: the inference cache of the hashed layers.
"""

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from mfh.harness.config import compose_config
from mfh.harness.models import model_from_config
from mfh.method import kernels as native
from mfh.method.hashing import bucket_and_sign
from mfh.method.layers import HashedConv2d, HashedLinear
from mfh.method.reconstruction import Reconstruction, g_param_bounds, g_widths
from mfh.method.space import CompressionSpace
from mfh.method.virtual import (
    FunctionalWeight,
    HashedNetsWeight,
    HashPairs,
    from_blocks,
    pack_codes,
    to_blocks,
    unpack_codes,
)

needs_native = pytest.mark.skipif(native.library() is None, reason="native kernels unavailable")


def source(kind: str, rows: int, cols: int, hashes: int = 4, g_layers: int = 3,
           g_bias: bool = False, scale: float = 1.0, buckets: int = 37,
           mode: str = "precomputed") -> torch.nn.Module:
    """A virtual-weight module: `hashednets`, `identity` (MFH U1, no g), `g` or `dual`."""
    torch.manual_seed(0)
    space = CompressionSpace(buckets, 0.3)
    if kind == "hashednets":
        return HashedNetsWeight(space, HashPairs(0, 1, rows, cols, buckets, 11, mode=mode))
    if kind == "identity":
        return FunctionalWeight(space, HashPairs(0, 1, rows, cols, buckets, 11, mode=mode), None,
                                scale)
    pairs = HashPairs(1, hashes, rows, cols, buckets, 11, mode=mode)
    widths = g_widths(hashes, g_layers)
    if kind == "g":
        g = Reconstruction(widths, g_bias)
        if g_bias:   # non-zero biases, so that their gradients are exercised
            for layer in g.layers:
                torch.nn.init.uniform_(layer.bias, -0.2, 0.2)
        return FunctionalWeight(space, pairs, g, scale)
    bounds = g_param_bounds(widths, 0.1 if g_bias else None)
    dual_space = CompressionSpace(23, 1.0)
    dual = (dual_space, HashPairs(1, len(bounds), rows, cols, 23, 11, dual=True, mode=mode),
            bounds, widths, g_bias)
    return FunctionalWeight(space, pairs, None, scale, dual)


def outputs_and_grads(module: torch.nn.Module, backend: str, grad: torch.Tensor
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    for p in module.parameters():
        p.grad = None
    with native.use_backend(backend):
        v = module()
        v.backward(grad)
    return v.detach(), [p.grad.clone() for p in module.parameters()]


CONFIGS = [("hashednets", {}), ("identity", {}), ("identity", {"scale": 1.7}),
           ("g", {"hashes": 1, "g_layers": 2}), ("g", {"hashes": 2, "g_layers": 3}),
           ("g", {"g_layers": 2}), ("g", {}), ("g", {"g_layers": 4}),
           ("g", {"g_bias": True, "scale": 0.8}), ("g", {"hashes": 16, "g_layers": 4}),
           ("g", {"hashes": 3, "g_layers": 3, "g_bias": True}),
           ("dual", {}), ("dual", {"g_bias": True, "scale": 1.3}),
           ("dual", {"hashes": 2, "g_layers": 4}), ("g", {"mode": "recomputed"}),
           ("dual", {"mode": "recomputed"})]


@needs_native
@pytest.mark.parametrize("kind,options", CONFIGS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_native_equals_reference(kind, options, dtype):
    rows, cols = 13, 29   # 377 weights: full blocks of native.LANES and a partial one
    module = source(kind, rows, cols, **options).to(dtype)
    grad = torch.randn(rows, cols, dtype=dtype, generator=torch.Generator().manual_seed(1))
    v_native, g_native = outputs_and_grads(module, "native", grad)
    v_ref, g_ref = outputs_and_grads(module, "reference", grad)
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 2e-5,
                                                                          "atol": 2e-6}
    torch.testing.assert_close(v_native, v_ref, **tol)
    for a, b in zip(g_native, g_ref, strict=True):
        torch.testing.assert_close(a, b, **tol)


@needs_native
def test_native_accepts_non_contiguous_gradients():
    module = source("g", 6, 70, g_bias=True).double()
    grad = torch.randn(70, 6, dtype=torch.float64).t()
    assert not grad.is_contiguous()
    v_native, g_native = outputs_and_grads(module, "native", grad)
    v_ref, g_ref = outputs_and_grads(module, "reference", grad)
    for a, b in zip(g_native, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@needs_native
def test_native_multi_chunk_backward_equals_reference():
    """More than native.CHUNK weights: several per-chunk tables, summed in order."""
    rows, cols = 70, 2000
    module = source("g", rows, cols, buckets=997, g_bias=True).double()
    grad = torch.randn(rows, cols, dtype=torch.float64)
    assert rows * cols > 2 * native.CHUNK
    v_native, g_native = outputs_and_grads(module, "native", grad)
    v_ref, g_ref = outputs_and_grads(module, "reference", grad)
    torch.testing.assert_close(v_native, v_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_native, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@needs_native
@pytest.mark.parametrize("kind,options", [("hashednets", {}), ("g", {"g_bias": True}),
                                          ("dual", {"g_bias": True}), ("identity", {"scale": 2.0})])
def test_native_gradcheck(kind, options):
    module = source(kind, 3, 5, buckets=7, **options).double()
    params = list(module.parameters())

    def weight(*_: torch.Tensor) -> torch.Tensor:
        return module()

    with native.use_backend("native"):
        assert torch.autograd.gradcheck(weight, tuple(params))


@needs_native
def test_native_is_deterministic_and_thread_independent():
    module = source("dual", 40, 3000, buckets=501, g_bias=True)
    grad = torch.randn(40, 3000)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 1):
            torch.set_num_threads(n)
            results.append(outputs_and_grads(module, "native", grad))
    finally:
        torch.set_num_threads(threads)
    for v, grads in results[1:]:
        assert torch.equal(v, results[0][0])
        for a, b in zip(grads, results[0][1], strict=True):
            assert torch.equal(a, b)


@needs_native
def test_hashednets_equals_mfh_identity_bit_for_bit_on_both_backends():
    grad = torch.randn(9, 31)
    for backend in ("native", "reference"):
        a = outputs_and_grads(source("hashednets", 9, 31), backend, grad)
        b = outputs_and_grads(source("identity", 9, 31), backend, grad)
        assert torch.equal(a[0], b[0])
        assert all(torch.equal(x, y) for x, y in zip(a[1], b[1], strict=True))


@needs_native
@pytest.mark.parametrize("layer,slots,rows,cols,buckets,seed,dual", [
    (0, 4, 7, 9, 97, 1691, False), (2, 13, 5, 33, 1000, 5, True), (1, 1, 1, 1, 3, 0, False),
    (3, 2, 13, 3, 2**31 - 5, 7, True), (0, 16, 20, 17, 65536, 2**32 - 1, False),
    (1, 3, 9, 100, 98356, 12, False)])   # rows of >= 64 columns: a block spans two rows
def test_native_hash_codes_equal_xxhash_reference(layer, slots, rows, cols, buckets, seed, dual):
    pairs = HashPairs(layer, slots, rows, cols, buckets, seed, dual=dual)
    with native.use_backend("reference"):
        reference = HashPairs(layer, slots, rows, cols, buckets, seed, dual=dual)
    assert torch.equal(pairs.codes, reference.codes)
    index, sign = bucket_and_sign(layer, slots, rows, cols, buckets, seed, dual=dual)
    for a, b in zip(pairs(), (index, sign), strict=True):
        assert torch.equal(a, b)


def test_code_packing_round_trips():
    index, sign = bucket_and_sign(0, 3, 5, 7, 2**31 - 1, 9)
    codes = pack_codes(index, sign)
    for a, b in zip(unpack_codes(codes), (index, sign), strict=True):
        assert torch.equal(a, b)
    blocks = to_blocks(codes)
    assert blocks.shape == (math.ceil(35 / native.LANES), 3, native.LANES)
    assert torch.equal(from_blocks(blocks, 35), codes)


def test_reference_backend_and_fallback(monkeypatch, tmp_path):
    with native.use_backend("reference"):
        assert native.backend() == "reference"
        assert not native.supports(torch.zeros(1))
    with pytest.raises(ValueError, match="not allowed"), native.use_backend("fast"):
        pass
    monkeypatch.setenv("MFH_BACKEND", "fast")
    with pytest.raises(ValueError, match="MFH_BACKEND"):
        native.backend()
    # A machine without a compiler: no kernels, a warning, and the reference path.
    monkeypatch.setenv("MFH_BACKEND", "auto")
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("MFH_KERNEL_DIR", str(tmp_path))
    native.library.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="unavailable"):
            assert native.library() is None
        assert native.backend() == "reference"
        module = source("g", 4, 6)
        assert module().shape == (4, 6)
    finally:
        native.library.cache_clear()
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        native.library()


def conv_layer() -> HashedConv2d:
    torch.manual_seed(0)
    return HashedConv2d(3, 5, (3, 3), source("g", 5, 27, g_bias=True), padding=1)


def test_inference_cache_reuses_and_matches():
    layer = conv_layer().eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        first = layer(x)
        cached = layer._cache[1]
        again = layer(x)
    assert layer._cache[1] is cached
    assert torch.equal(first, again)
    layer.train()
    assert layer._cache is None
    torch.testing.assert_close(layer(x), first, rtol=0, atol=0)


def test_inference_cache_invalidated_by_parameter_changes():
    model = model_from_config(compose_config(["model=mfh", "hashes=2"]), (1, 28, 28), 10)
    x = torch.rand(4, 1, 28, 28)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model.eval()
    with torch.no_grad():
        before = model(x)
    model.train()
    F.cross_entropy(model(x), torch.arange(4)).backward()
    opt.step()   # in place: bumps the version counters
    model.eval()
    with torch.inference_mode():
        after = model(x)
    assert not torch.equal(before, after)
    with torch.no_grad():   # in-place change while staying in eval mode
        for layer in model:
            if isinstance(layer, HashedLinear):
                layer.source.g.layers[0].weight.mul_(2)
        changed = model(x)
        assert not torch.equal(changed, after)
        fresh = [layer._build()[0] for layer in model if isinstance(layer, HashedLinear)]
        cached = [layer._cache[1] for layer in model if isinstance(layer, HashedLinear)]
        for a, b in zip(fresh, cached, strict=True):
            assert torch.equal(a, b)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.load_state_dict({k: torch.zeros_like(v) if v.is_floating_point() else v
                               for k, v in state.items()})
        assert torch.count_nonzero(model(x) - model[-1].bias) == 0
        model.load_state_dict(state, assign=True)   # replaced tensors
        torch.testing.assert_close(model(x), changed, rtol=0, atol=0)
        model.double()   # dtype move
        assert model(x.double()).dtype == torch.float64


def test_no_cache_with_gradients_enabled():
    layer = conv_layer().eval()
    x = torch.randn(1, 3, 4, 4)
    layer(x).sum().backward()
    layer(x).sum().backward()   # a cached, freed graph would fail here
    assert layer._cache is None
    assert layer.source.space.w.grad is not None


GRID_SHAPES = [(u, g) for u in (1, 2, 4, 8, 16) for g in (2, 3, 4)]


@needs_native
@pytest.mark.parametrize("hashes,g_layers", GRID_SHAPES)
def test_grid_shapes_run_the_fixed_shape_kernels(hashes, g_layers):
    widths = tuple(g_widths(hashes, g_layers))
    params = len(g_param_bounds(list(widths), None))
    assert native.has_fixed_shape(widths, bias=False)
    assert native.has_fixed_shape(widths, bias=False, dual_slots=params)
    assert not native.has_fixed_shape(widths, bias=True)   # biases: the generic loops
    assert not native.has_fixed_shape((3, 2, 1), bias=False)


@needs_native
@pytest.mark.parametrize("hashes,g_layers", GRID_SHAPES)
@pytest.mark.parametrize("kind", ["g", "dual"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fixed_shapes_equal_the_generic_loops_bit_for_bit(hashes, g_layers, kind, dtype):
    """The SIMD-register g gives exactly the bits of the generic loops: outputs and every
    gradient, over full blocks and a partial one."""
    module = source(kind, 13, 29, hashes, g_layers, scale=0.7).to(dtype)
    grad = torch.randn(13, 29, dtype=dtype, generator=torch.Generator().manual_seed(2))
    assert_fixed_equals_generic(module, grad)


def assert_fixed_equals_generic(module: torch.nn.Module, grad: torch.Tensor) -> None:
    with native.fixed_shapes(False):
        v_generic, g_generic = outputs_and_grads(module, "native", grad)
    v_fixed, g_fixed = outputs_and_grads(module, "native", grad)
    assert torch.equal(v_fixed, v_generic)
    for a, b in zip(g_fixed, g_generic, strict=True):
        assert torch.equal(a, b)


@needs_native
@pytest.mark.parametrize("kind", ["g", "dual"])
def test_fixed_shapes_multi_chunk_backward_bit_for_bit(kind):
    module = source(kind, 70, 2000, buckets=997)
    grad = torch.randn(70, 2000, generator=torch.Generator().manual_seed(3))
    assert_fixed_equals_generic(module, grad)


@needs_native
@pytest.mark.parametrize("kind", ["g", "dual"])
def test_fixed_shapes_gradcheck(kind):
    module = source(kind, 3, 5, buckets=7).double()

    def weight(*_: torch.Tensor) -> torch.Tensor:
        return module()

    with native.use_backend("native"):
        assert torch.autograd.gradcheck(weight, tuple(module.parameters()))
