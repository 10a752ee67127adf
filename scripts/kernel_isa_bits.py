"""Do the fused kernels give the same bits when built for another instruction set? (issue 26)

    python scripts/kernel_isa_bits.py -march=native > a.txt
    python scripts/kernel_isa_bits.py -march=x86-64-v3 > b.txt
    diff a.txt b.txt        # only the last line (the flags) may differ
    MFH_NUMERICS=portable python scripts/kernel_isa_bits.py ...   # the same in portable mode

Builds the kernels with the given -march (in place of `mfh.method.kernels.MARCH`; its own
cache entry) and prints one sha256 prefix per case of the outputs, virtual weights and every
gradient of a 784-1000-10 hashed net at 1/8 (Table 1's shapes), batch 50: U1, U2, U4, U8,
U16 x G2, G3, G4, U4-G3-D, U4-G2-D, U4-G3-H2, U1-G1 and HashedNets, float32 and float64.
Measured 2026-12-07 on an Intel Xeon with AVX-512: -march=native and -march=x86-64-v3 give
the same bits in all 40 cases, in native numerics and in portable numerics (each mode against
itself: their ATen pins differ).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply([])   # MFH_NUMERICS: pin the back-ends before torch

import torch  # noqa: E402

from mfh.method import HashingSpec, LayerSpec, kernels, weight_layers  # noqa: E402

LAYERS = [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)]
SPECS = {**{f"U{u}-G{g}": {"hashes": u, "g_layers": g} for u in (1, 2, 4, 8, 16)
            for g in (2, 3, 4)},
         "U4-G3-D": {"dual": True}, "U4-G2-D": {"dual": True, "g_layers": 2},
         "U4-G3-H2": {"hops": 2}, "U1-G1": {"hashes": 1, "g_layers": 1},
         "HashedNets": {"model": "hashednets"}}


def case_hash(spec: HashingSpec, dtype: torch.dtype) -> str:
    """sha256 prefix of the outputs, virtual weights and gradients of one net, seed 0."""
    torch.manual_seed(0)
    modules = torch.nn.ModuleList(weight_layers(spec, LAYERS)).to(dtype)
    x = torch.randn(50, 784, dtype=dtype, generator=torch.Generator().manual_seed(1))
    out = modules[1](torch.relu(modules[0](x)))
    out.square().sum().backward()
    digest = hashlib.sha256()
    for t in [out.detach(), *(m.source().detach() for m in modules),
              *(p.grad for p in modules.parameters() if p.grad is not None)]:
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def main(argv: list[str]) -> int:
    """Print one line per case, then the kernels' flags."""
    if len(argv) != 1 or not argv[0].startswith("-march="):
        print(__doc__, file=sys.stderr)
        return 2
    kernels.MARCH = argv[0]
    if kernels.library() is None:
        print("kernel_isa_bits: the kernels did not build", file=sys.stderr)
        return 1
    for dtype in (torch.float32, torch.float64):
        for name, options in SPECS.items():
            print(f"{dtype} {name} {case_hash(HashingSpec(**options), dtype)}", flush=True)
    print("flags", " ".join(kernels.flags()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
