"""Fused CPU kernels for virtual weights, built on first use from `virtual_kernels.cpp` here.

The C++ source is compiled by the system C++ compiler (`$CXX`, else `c++`) into a per-machine
cache (`$MFH_KERNEL_DIR`, default `~/.cache/mfh/kernels`) and loaded with ctypes: no Python
headers and no ninja are needed. Where it cannot be built, or with `MFH_BACKEND=reference`, the
layers run the pure-PyTorch reference path of `mfh.method.virtual`, which the tests compare it with.

One call computes a whole virtual matrix: U gathers, the sign flips, g (or g with hashed
parameters for -D) and the scale, in one pass over the N virtual weights, LANES at a time.
The backward recomputes that forward instead of storing (U, N) intermediates, and scatter-adds
into per-chunk tables that are summed in a fixed order: deterministic for any thread count.
tanh in float32 is a rational approximation within 3 ulp of torch.tanh.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

SOURCE = Path(__file__).resolve().parent / "virtual_kernels.cpp"
COMMON_FLAGS = ["-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno", "-std=c++17",
                "-shared", "-fPIC"]
# The host's instruction set, in both numerics modes (mfh.numerics): the kernels never
# reassociate a floating-point operation (-ffp-contract=off, no fast-math; a SIMD lane is one
# virtual weight, whatever the vector width), so a build for the host gives the bits of a build
# for x86-64-v3 (AVX2), which portable mode used until issue 26 (tests/test_kernel_isa.py).
MARCH = "-march=native"
ABI_VERSION = 10
MAX_SLOTS = 16            # U and every width of g (MAX_WIDTH in the C++ source)
MAX_G_LAYERS = 3          # G4
LANES = 64                # virtual weights per block (LANES in the C++ source)
CHUNK = 65536             # virtual weights per backward chunk, at most MAX_CHUNKS chunks
MAX_CHUNKS = 4
SERIAL = 1 << 15          # hashed values per call below which the kernels use one thread
BACKENDS = ("auto", "native", "reference")

_override: str | None = None


def _cpu_signature() -> str:
    """The CPU model and flags (the build uses -march=native, so the cache is per CPU)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    keep = [ln for ln in lines if ln.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(keep)))


def flags() -> list[str]:
    """Compiler flags of the kernels (the same in both numerics modes)."""
    return [*COMMON_FLAGS, MARCH]


def _build(target: Path) -> None:
    """Compile SOURCE into `target` atomically (several processes may build at once)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    compiler = os.environ.get("CXX", "c++")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        subprocess.run([compiler, *flags(), str(SOURCE), "-o", str(out)], check=True,
                       capture_output=True, text=True, timeout=300)
        os.replace(out, target)


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled kernels, building them if needed; None (with a warning) if that fails."""
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(flags()).encode()
                         + os.environ.get("CXX", "c++").encode()
                         + _cpu_signature().encode()).hexdigest()[:16]
    cache = Path(os.environ.get("MFH_KERNEL_DIR", Path.home() / ".cache" / "mfh" / "kernels"))
    target = cache / f"virtual_kernels-{key}.so"
    try:
        if not target.exists():
            _build(target)
        lib = ctypes.CDLL(str(target))
        built = (lib.mfh_abi_version(), lib.mfh_lanes(), lib.mfh_max_width(),
                 lib.mfh_max_layers())
        if built != (ABI_VERSION, LANES, MAX_SLOTS, MAX_G_LAYERS):
            raise RuntimeError(f"{target} has (ABI, lanes, max width, max layers) {built}, "
                               f"want {(ABI_VERSION, LANES, MAX_SLOTS, MAX_G_LAYERS)}")
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", "") or err
        warnings.warn(f"mfh native kernels unavailable, using the PyTorch path: {detail}",
                      RuntimeWarning, stacklevel=2)
        return None
    _declare(lib)
    return lib


def _declare(lib: ctypes.CDLL) -> None:
    i32, i64, f64, ptr = ctypes.c_int32, ctypes.c_int64, ctypes.c_double, ctypes.c_void_p
    common = [i64, i32, ptr, ptr, ptr, i32, ptr, i32, ptr, i32, ptr, ptr, ptr, ptr, f64]
    for suffix in ("f32", "f64"):
        getattr(lib, f"mfh_forward_{suffix}").argtypes = [*common, ptr, i32]
        getattr(lib, f"mfh_backward_{suffix}").argtypes = [
            *common, ptr, i32, i64, ptr, ptr, ptr, i64, ptr, ptr, i32]
    lib.mfh_hash_codes.argtypes = [ptr, i32, ptr, i32]
    lib.mfh_use_fixed_shapes.argtypes = [i32]
    lib.mfh_has_fixed_shape.argtypes = [i32, ptr, i32, i32]
    lib.mfh_gather_floor.argtypes = [ptr, i64, ptr, ptr, i32]
    lib.mfh_scatter_floor.argtypes = [ptr, i64, i64, ptr, i32]
    lib.mfh_g_floor.argtypes = [i64, i32, ptr, i32, i32]


@torch.compiler.assume_constant_result
def backend() -> str:
    """The active backend: `native` (fused kernels) or `reference` (pure PyTorch).

    `use_backend` overrides `$MFH_BACKEND` (auto | native | reference; auto = native when the
    kernels build). `native` that cannot build raises instead of falling back. Under
    `torch.compile` the backend is read once, when a graph is traced.
    """
    choice = _override or os.environ.get("MFH_BACKEND", "auto")
    if choice not in BACKENDS:
        raise ValueError(f"MFH_BACKEND={choice!r} is not allowed; allowed: {', '.join(BACKENDS)}")
    if choice == "reference":
        return "reference"
    if library() is None:
        if choice == "native":
            raise RuntimeError("MFH_BACKEND=native but the kernels could not be built")
        return "reference"
    return "native"


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the enclosed code with backend `name` (auto | native | reference)."""
    global _override
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r} is not allowed; allowed: {', '.join(BACKENDS)}")
    previous, _override = _override, name
    try:
        yield
    finally:
        _override = previous


@contextmanager
def fixed_shapes(enabled: bool) -> Iterator[None]:
    """Run the enclosed code with the kernels' fixed-shape g (the default: g of the Table 1
    grid shapes in SIMD registers) or, with False, every g through the generic loops. Both give
    the same bits; the tests compare them. Needs the native kernels."""
    lib = library()
    if lib is None:
        raise RuntimeError("native kernels unavailable")
    lib.mfh_use_fixed_shapes(int(enabled))
    try:
        yield
    finally:
        lib.mfh_use_fixed_shapes(1)


def has_fixed_shape(widths: tuple[int, ...], bias: bool, dual_slots: int = 0) -> bool:
    """Whether g with these widths (input first), biases and R hashed parameters (-D; 0 for
    a global g) runs the fixed-shape kernels rather than the generic loops."""
    lib = library()
    return lib is not None and bool(lib.mfh_has_fixed_shape(
        len(widths) - 1, _widths(tuple(widths)).data_ptr(), int(bias), dual_slots))


def supports(*tensors: torch.Tensor | None) -> bool:
    """Whether the native backend is active and handles these tensors (CPU, float32/64)."""
    present = [t for t in tensors if t is not None]
    return (backend() == "native" and all(t.device.type == "cpu" for t in present)
            and len({t.dtype for t in present}) == 1
            and present[0].dtype in (torch.float32, torch.float64))


Key = tuple[int, int, int, int, int, int]   # layer, rows, cols, buckets, bucket seed, sign seed


@functools.lru_cache(maxsize=1024)
def _key(key: Key) -> torch.Tensor:
    """The key as the int64 array the kernels read (cached: the kernels never write it)."""
    layer, rows, cols, buckets, bucket_seed, sign_seed = key
    return torch.tensor([layer, rows, cols, buckets, bucket_seed & 0xFFFFFFFF,
                         sign_seed & 0xFFFFFFFF], dtype=torch.int64)


def hash_codes(key: Key, slots: int) -> torch.Tensor:
    """Packed hash codes in blocks, (ceil(rows * cols / LANES), slots, LANES) int32.

    `key`: (layer, rows, cols, buckets, bucket seed, sign seed). Each code holds the bucket in
    bits 0..30 and bit 31 set where the sign is -1; code 0 pads the last block. Needs the
    native kernels; equal to `mfh.method.virtual.to_blocks(pack_codes(*bucket_and_sign(...)))`.
    """
    lib = library()
    if lib is None:
        raise RuntimeError("native kernels unavailable")
    out = torch.empty(-(-key[1] * key[2] // LANES), slots, LANES, dtype=torch.int32)
    words = _key(key)   # kept alive until the call returns
    lib.mfh_hash_codes(words.data_ptr(), slots, out.data_ptr(), _threads(out.numel()))
    return out


@dataclass(frozen=True)
class Codes:
    """The hash codes of one set of hash pairs, for a kernel: `stored` codes in blocks (as
    `hash_codes` returns them) or, when None, hashed block by block inside the kernel from
    `key`, so that none are kept, not even during the call (index mode `recomputed`)."""

    slots: int
    key: Key
    stored: torch.Tensor | None = None


@dataclass(frozen=True)
class Plan:
    """Shape of one virtual-weight computation.

    `codes`: of w; `dual`: of w' for -D. `widths`: g's widths, input (U) first; `(U,)` is the
    identity. `bounds`: (R,) for -D.
    """

    n: int
    widths: tuple[int, ...]
    bias: bool
    scale: float
    codes: Codes
    dual: Codes | None = None
    bounds: torch.Tensor | None = None

    @staticmethod
    def fits(widths: tuple[int, ...]) -> bool:
        """Whether the kernels handle g with these widths."""
        return len(widths) - 1 <= MAX_G_LAYERS and max(widths) <= MAX_SLOTS and (
            len(widths) > 1 or widths[0] == 1)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _threads(work: int) -> int:
    """Threads for a kernel call touching `work` hashed values: waking threads costs more than
    a small call."""
    return 1 if work < SERIAL else torch.get_num_threads()


@functools.lru_cache(maxsize=64)
def _widths(widths: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(widths, dtype=torch.int32)


def _call(kernel: str, plan: Plan, w: torch.Tensor, g: torch.Tensor | None,
          w2: torch.Tensor | None, *extra: int | float | None) -> None:
    """Call `mfh_<kernel>_<f32|f64>` with the arguments shared by forward and backward."""
    widths = _widths(plan.widths)
    bounds = None if plan.bounds is None else plan.bounds.to(w.dtype).contiguous()
    dual = plan.dual
    dual_slots = 0 if dual is None else dual.slots
    key = _key(plan.codes.key)
    dual_key = None if dual is None else _key(dual.key)
    suffix = "f32" if w.dtype == torch.float32 else "f64"
    getattr(library(), f"mfh_{kernel}_{suffix}")(
        plan.n, plan.codes.slots, _ptr(plan.codes.stored), _ptr(key), _ptr(w),
        len(plan.widths) - 1, _ptr(widths), int(plan.bias), _ptr(g), dual_slots,
        _ptr(None if dual is None else dual.stored), _ptr(dual_key), _ptr(w2), _ptr(bounds),
        plan.scale, *extra, _threads(plan.n * (plan.codes.slots + dual_slots)))


def _contiguous(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.detach().contiguous() for t in tensors]


def _forward(plan: Plan, w: torch.Tensor, g: torch.Tensor | None,
             w2: torch.Tensor | None) -> torch.Tensor:
    """V (N,) = scale * g(xi * w[h]) in one fused pass (see `virtual_weight`)."""
    w, g, w2 = _contiguous(w, g, w2)
    out = torch.empty(plan.n, dtype=w.dtype)
    _call("forward", plan, w, g, w2, _ptr(out))
    return out


def _backward(plan: Plan, grad_out: torch.Tensor, w: torch.Tensor, g: torch.Tensor | None,
              w2: torch.Tensor | None, need_w: bool, need_g: bool, need_w2: bool
              ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(dL/dw, dL/dg, dL/dw2) of `_forward`, None where not needed.

    The backward gathers z (and alpha) again rather than keeping (U + R, N) values from the
    forward: on the CPUs we measured, re-gathering from a cache-resident space is faster than
    streaming the stored values back from memory.
    """
    w, g, w2 = _contiguous(w, g, w2)
    chunks = min(MAX_CHUNKS, max(1, math.ceil(plan.n / CHUNK)))

    def grad_and_tables(t: torch.Tensor | None, need: bool
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if t is None or not need:
            return None, None
        tables = None if chunks == 1 else torch.empty(chunks, t.numel(), dtype=t.dtype)
        return torch.empty_like(t), tables

    grad_w, tables = grad_and_tables(w, need_w)
    grad_w2, tables2 = grad_and_tables(w2, need_w2)
    grad_g = torch.empty_like(g) if g is not None and need_g else None
    grad_out = grad_out.contiguous()   # a name keeps a copy alive during the call
    _call("backward", plan, w, g, w2, _ptr(grad_out), chunks, w.numel(),
          _ptr(grad_w), _ptr(tables), _ptr(grad_g), 0 if w2 is None else w2.numel(),
          _ptr(grad_w2), _ptr(tables2))
    return grad_w, grad_g, grad_w2


class _VirtualWeight(torch.autograd.Function):
    """The eager path: `_forward` and `_backward` behind a plain autograd.Function (about
    85 us less per layer and step than dispatching through the operators below)."""

    @staticmethod
    def forward(ctx, plan: Plan, w: torch.Tensor, g: torch.Tensor | None,
                w2: torch.Tensor | None) -> torch.Tensor:
        ctx.plan = plan
        ctx.save_for_backward(w, g, w2)
        return _forward(plan, w, g, w2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        _, need_w, need_g, need_w2 = ctx.needs_input_grad
        return None, *_backward(ctx.plan, grad_out, *ctx.saved_tensors, need_w, need_g,
                                need_w2)


# The same kernels as PyTorch operators (`torch.ops.mfh.*`): typed schemas, fake
# implementations for tracing and autograd, so `torch.compile(fullgraph=True)` sees each as one
# node. A Plan travels as its fields (`_plan_args`): an operator takes tensors and scalars.

def _plan_args(plan: Plan) -> tuple:
    """The Plan's fields in operator-argument order (see `_plan_of`)."""
    dual = plan.dual
    return (plan.codes.stored, list(plan.codes.key), plan.codes.slots, list(plan.widths),
            plan.bias, plan.scale, plan.n, None if dual is None else dual.stored,
            [] if dual is None else list(dual.key), 0 if dual is None else dual.slots,
            plan.bounds)


def _plan_of(codes: torch.Tensor | None, key: list[int], slots: int, widths: list[int],
             bias: bool, scale: float, n: int, dual_codes: torch.Tensor | None,
             dual_key: list[int], dual_slots: int, bounds: torch.Tensor | None) -> Plan:
    dual = Codes(dual_slots, tuple(dual_key), dual_codes) if dual_slots else None
    return Plan(n, tuple(widths), bias, scale, Codes(slots, tuple(key), codes), dual, bounds)


@torch.library.custom_op("mfh::virtual_weight", mutates_args=(), device_types="cpu")
def _virtual_weight_op(w: torch.Tensor, g: torch.Tensor | None, w2: torch.Tensor | None,
                       codes: torch.Tensor | None, key: list[int], slots: int,
                       widths: list[int], bias: bool, scale: float, n: int,
                       dual_codes: torch.Tensor | None, dual_key: list[int], dual_slots: int,
                       bounds: torch.Tensor | None) -> torch.Tensor:
    """`_forward` of the Plan these fields describe."""
    plan = _plan_of(codes, key, slots, widths, bias, scale, n, dual_codes, dual_key,
                    dual_slots, bounds)
    return _forward(plan, w, g, w2)


@_virtual_weight_op.register_fake
def _virtual_weight_fake(w, g, w2, codes, key, slots, widths, bias, scale, n, dual_codes,
                         dual_key, dual_slots, bounds):
    return w.new_empty(n)


@torch.library.custom_op("mfh::virtual_weight_backward", mutates_args=(), device_types="cpu")
def _virtual_weight_backward_op(
        grad_out: torch.Tensor, w: torch.Tensor, g: torch.Tensor | None,
        w2: torch.Tensor | None, codes: torch.Tensor | None, key: list[int], slots: int,
        widths: list[int], bias: bool, scale: float, n: int, dual_codes: torch.Tensor | None,
        dual_key: list[int], dual_slots: int, bounds: torch.Tensor | None, need_w: bool,
        need_g: bool, need_w2: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`_backward` of `mfh::virtual_weight`; an empty tensor where a gradient is not needed."""
    plan = _plan_of(codes, key, slots, widths, bias, scale, n, dual_codes, dual_key,
                    dual_slots, bounds)
    grads = _backward(plan, grad_out, w, g, w2, need_w, need_g, need_w2)
    return tuple(w.new_empty(0) if t is None else t for t in grads)


@_virtual_weight_backward_op.register_fake
def _virtual_weight_backward_fake(grad_out, w, g, w2, codes, key, slots, widths, bias, scale,
                                  n, dual_codes, dual_key, dual_slots, bounds, need_w, need_g,
                                  need_w2):
    def like(t, need):
        return t.new_empty(t.shape) if t is not None and need else w.new_empty(0)

    return like(w, need_w), like(g, need_g), like(w2, need_w2)


def _setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
    w, g, w2, codes, key, slots, widths, bias, scale, n, dual_codes, dual_key, dual_slots, \
        bounds = inputs
    ctx.save_for_backward(w, g, w2, codes, dual_codes, bounds)
    ctx.scalars = (key, slots, widths, bias, scale, n, dual_key, dual_slots)


def _op_backward(ctx, grad_out: torch.Tensor) -> tuple:
    w, g, w2, codes, dual_codes, bounds = ctx.saved_tensors
    key, slots, widths, bias, scale, n, dual_key, dual_slots = ctx.scalars
    need_w, need_g, need_w2 = ctx.needs_input_grad[:3]
    grad_w, grad_g, grad_w2 = torch.ops.mfh.virtual_weight_backward(
        grad_out, w, g, w2, codes, key, slots, widths, bias, scale, n, dual_codes, dual_key,
        dual_slots, bounds, need_w, need_g, need_w2)
    return (grad_w if need_w else None, grad_g if need_g else None,
            grad_w2 if need_w2 else None, *[None] * 11)


_virtual_weight_op.register_autograd(_op_backward, setup_context=_setup_context)


def virtual_weight(plan: Plan, w: torch.Tensor, g: torch.Tensor | None = None,
                   w2: torch.Tensor | None = None) -> torch.Tensor:
    """The N virtual weights of `plan` read from space `w` (K,).

    `g`: g's parameters packed per layer (weight (out, in) row-major, then the bias if
    `plan.bias`), for a global g; `w2` (K'): the space of g's hashed parameters for -D (then
    `g` is None). Differentiable in w, g and w2. Returns (N,). Traced by torch.compile as the
    operator `mfh::virtual_weight`; run eagerly through `_VirtualWeight`, the same kernels.
    """
    if torch.compiler.is_compiling():
        return torch.ops.mfh.virtual_weight(w, g, w2, *_plan_args(plan))
    return _VirtualWeight.apply(plan, w, g, w2)


def access_floor(codes: torch.Tensor, w: torch.Tensor) -> tuple[Callable[[], None],
                                                                 Callable[[], None]]:
    """Two calls for the cost benchmark: one reads xi * w[h] for every hash code in `codes`
    (int32, any shape, packed as `hash_codes` packs them), the other adds xi into w-sized
    per-thread tables at every code's bucket. Together: the random memory accesses that any
    implementation of the method makes, without the arithmetic around them."""
    lib = library()
    if lib is None:
        raise RuntimeError("native kernels unavailable")
    codes = codes.contiguous()
    threads = torch.get_num_threads()
    sums = torch.empty(threads, dtype=torch.float32)
    tables = torch.empty(threads, w.numel(), dtype=torch.float32)
    w = w.detach().float().contiguous()

    def gather() -> None:
        lib.mfh_gather_floor(codes.data_ptr(), codes.numel(), w.data_ptr(), sums.data_ptr(),
                             threads)

    def scatter() -> None:
        lib.mfh_scatter_floor(codes.data_ptr(), codes.numel(), w.numel(), tables.data_ptr(),
                              threads)

    return gather, scatter


def g_floor(widths: tuple[int, ...], dual_slots: int, n: int) -> Callable[[], None] | None:
    """A call for the cost benchmark: g's forward and backward (float32, widths input first,
    `dual_slots` hashed parameters or 0 for a global g) once for each of `n` virtual weights,
    on inputs that stay in L1 - the arithmetic that any implementation of g makes, without
    the memory accesses around it. None where the kernels are unavailable or g has no
    fixed-shape kernel (`has_fixed_shape`)."""
    lib = library()
    if lib is None or len(widths) < 2 or not has_fixed_shape(widths, False, dual_slots):
        return None
    threads = torch.get_num_threads()
    shape = _widths(widths)

    def run() -> None:
        lib.mfh_g_floor(n, len(widths) - 1, shape.data_ptr(), dual_slots, threads)

    return run
