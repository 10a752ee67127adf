"""The fused kernels give the same bits built for this host as built for x86-64-v3 (AVX2).

This is what lets portable numerics build them for the host (issue 26): they are compiled
without fused multiply-adds or fast-math, and every SIMD lane holds one virtual weight, so the
vector width (8 floats with AVX2, 16 with AVX-512) must not change a result. The script hashes
the outputs, virtual weights and every gradient of Table 1's 784-1000-10 net for U1-U16 x
G2-G4, -D, -H2, U1-G1 and HashedNets, float32 and float64, in portable numerics.
"""

import os
import subprocess
import sys

from conftest import ROOT


def case_hashes(march: str) -> list[str]:
    proc = subprocess.run([sys.executable, "scripts/kernel_isa_bits.py", march], cwd=ROOT,
                          env={**os.environ, "MFH_NUMERICS": "portable"}, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    *cases, flags = proc.stdout.splitlines()
    assert flags.endswith(march)
    return cases


def test_host_build_gives_the_bits_of_the_avx2_build():
    host, avx2 = case_hashes("-march=native"), case_hashes("-march=x86-64-v3")
    assert len(host) == 40
    assert host == avx2
