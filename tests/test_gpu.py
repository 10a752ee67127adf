"""The GPU path: `device=cuda` runs through the reference path (the fused kernels are CPU-only)
under `torch.use_deterministic_algorithms(True)`, and reruns give the same record. Skipped on a
machine without CUDA."""

from __future__ import annotations

import json

import pytest
import torch

from mfh.harness.config import compose_config
from mfh.harness.runner import run
from mfh.method import HashingSpec, LayerSpec, weight_layers

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device on this machine")

MODELS = [["model=hashednets"], ["model=mfh"], ["model=mfh", "model.dual=true"],
          ["model=mfh", "model.hops=2"], ["model=rer"], ["model=lrd"]]


@pytest.mark.parametrize("overrides", MODELS, ids=lambda o: " ".join(o))
def test_cuda_runs_are_deterministic(tmp_path, overrides):
    metrics = []
    for k in range(2):
        path, status = run(compose_config([*overrides, "device=cuda", "epochs=2",
                                           "train_limit=300", "logger=none",
                                           f"results_dir={tmp_path / str(k)}"]))
        assert status == "ok"
        metrics.append(json.loads(path.read_text())["metrics"])
    assert metrics[0] == metrics[1]


@pytest.mark.parametrize("spec", [HashingSpec(model="hashednets", hashes=1, g_layers=1,
                                              space="per_layer", layer_scale="none"),
                                  HashingSpec(), HashingSpec(dual=True)],
                         ids=["HashedNets", "U4-G3", "U4-G3-D"])
def test_cuda_virtual_weights_equal_the_cpu_ones_to_rounding(spec):
    torch.manual_seed(0)
    layers = weight_layers(spec, [LayerSpec("linear", 64, 32), LayerSpec("linear", 32, 10)])
    cpu = [layer.source().detach() for layer in layers]
    gpu = [layer.cuda().source().detach().cpu() for layer in layers]
    for a, b in zip(cpu, gpu, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
