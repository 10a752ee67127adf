"""Numerics modes: `native` (the host's fastest code paths) or `portable` (pinned, so that a
run gives the same numbers on every x86-64 machine with AVX2).

Portable mode pins, before torch starts (its back-ends read these once):
- ATen's CPU dispatch level: `ATEN_CPU_CAPABILITY=avx2` (no AVX-512 kernels);
- MKL's conditional numerical reproducibility: `MKL_CBWR=AVX2,STRICT`;
- oneDNN's instruction set: `ONEDNN_MAX_CPU_ISA=AVX2`;
- the default thread count, `PORTABLE_THREADS` (a job's `threads` may set another: MKL's
  strict mode makes its GEMMs round the same for every thread count, and our kernels never
  depend on it, so our models' portable numbers do not either (tests/test_numerics.py,
  test_launchers.py); ATen's full reductions of over 32,768 elements to one number would);
Not pinned: the fused kernels (`mfh.method.kernels`) are built for the host in both modes; they
never reassociate a floating-point operation, so they give the bits of an x86-64-v3 (AVX2)
build (tests/test_kernel_isa.py; until issue 26 portable mode built them for x86-64-v3).
`run.py` calls `apply(sys.argv)` before importing torch; this module must not import it.
"""

from __future__ import annotations

import os

MODES = ("native", "portable")
PORTABLE_THREADS = 2
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT",
                "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": str(PORTABLE_THREADS),
                "MKL_NUM_THREADS": str(PORTABLE_THREADS)}
ENV = "MFH_NUMERICS"


def requested(argv: list[str]) -> str:
    """The mode a command line asks for (`numerics=<mode>`), else `$MFH_NUMERICS`, else native."""
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if sep and key == "numerics":
            return value
    return os.environ.get(ENV, "native")


def apply(argv: list[str]) -> str:
    """Set the environment of the requested mode (before torch is imported); return the mode.
    An unknown mode is left for `validate` to refuse with the allowed values."""
    mode = requested(argv)
    os.environ[ENV] = mode
    if mode == "portable":
        os.environ.update(PORTABLE_ENV)
    return mode


def active() -> str:
    """The mode this process runs in: `portable` only if every pin is in the environment."""
    pinned = all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items())
    return "portable" if os.environ.get(ENV) == "portable" and pinned else "native"
