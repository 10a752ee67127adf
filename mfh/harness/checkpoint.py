"""Compressed checkpoints: only what must be stored to rebuild a hashed model.

A checkpoint holds the configuration, the input shape and class count, every distinct parameter
tensor (w, w', g, unhashed biases; a shared space once) and each layer's hash seeds. Hash
indices are not stored: they are recomputed from the seeds, so the file is as small as the
compressed model. `load_checkpoint` rebuilds the model and gives identical predictions.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from mfh.atomic import write_atomic
from mfh.harness.models import build_model, model_from_config
from mfh.harness.specs import ArchSpec
from mfh.method import HashingSpec, HashPairs


def stored_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every distinct parameter of `model` by its first name (shared tensors appear once)."""
    return {name: p.detach().cpu() for name, p in model.named_parameters()}


def hash_seeds(model: nn.Module) -> dict[str, int]:
    """The seed of every hash-pair module, by module name."""
    return {name: int(m.seed) for name, m in model.named_modules() if isinstance(m, HashPairs)}


def save_checkpoint(model: nn.Module, config: dict, in_shape: tuple[int, int, int],
                    num_classes: int, path: str | Path) -> int:
    """Write the compressed checkpoint of `model` to `path`; return its size in bytes."""
    payload = {"config": config, "in_shape": list(in_shape), "num_classes": num_classes,
               "tensors": stored_tensors(model), "hash_seeds": hash_seeds(model)}
    path = Path(path)
    write_atomic(path, lambda f: torch.save(payload, f))
    return path.stat().st_size


def load_checkpoint(path: str | Path) -> nn.Module:
    """Rebuild the model saved by `save_checkpoint`, in eval mode."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model = model_from_config(payload["config"], tuple(payload["in_shape"]),
                              payload["num_classes"])
    if hash_seeds(model) != payload["hash_seeds"]:
        raise ValueError(f"{path}: hash seeds differ from those the configuration builds")
    tensors = dict(model.named_parameters())
    if tensors.keys() != payload["tensors"].keys():
        raise ValueError(f"{path}: stored tensors do not match the configuration's parameters")
    with torch.no_grad():
        for name, value in payload["tensors"].items():
            tensors[name].copy_(value)
    return model.eval()


def dense_bytes(arch: ArchSpec, in_shape: tuple[int, int, int], num_classes: int) -> int:
    """Size in bytes of the dense model of the same architecture, saved as a state_dict."""
    buffer = io.BytesIO()
    dense = build_model(arch, HashingSpec(model="dense"), in_shape, num_classes)
    torch.save(dense.state_dict(), buffer)
    return buffer.getbuffer().nbytes
