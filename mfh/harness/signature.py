"""Record signatures: a short hash of the configuration a result depends on, and nothing else.

`effective_config` drops what cannot change a result: the seed (records are per seed), logging,
paths, the device and the thread count (they move float rounding only: the record's provenance
names them), locking, whether a checkpoint is saved or the test set is evaluated at every epoch
(the reported test error is the same), where a dataset's files are, and the keys a model does
not read (dense reads no `compression`, `hashes` or `model.*` beyond its
name; a model without its own g reads no `optim.g_*`; ...). Two configurations with the same
effective config train the same network on the same data, so they share one record folder.
A model key added later is left out at the value that reproduces the behaviour before it
(`model.hops: 1`, `model.g_init: sign`, `model.step_scale: none`), so older records keep
their signatures; at any other value it is part of the signature.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable

# Top-level keys that never change a result.
NON_RESULT_KEYS = ("seed", "logger", "results_dir", "data_dir", "download", "device", "hydra",
                   "checkpoint", "threads", "numerics", "lock_wait", "test_eval")
# Keys that change a result only when set: at this value they are left out, so the records
# made before the key existed keep their signatures.
NEUTRAL = {"patience": None, "distill": None}
# Dataset keys that say where files are, or whether they are checked, not what they hold.
NON_RESULT_DATASET_KEYS = ("path", "verify_md5")


def unread_keys(config: dict) -> list[str]:
    """Dotted keys of `config` that its model does not read (so they cannot change a result)."""
    m = config.get("model", {})
    name = m.get("name")
    g_keys = ["optim.g_optimizer", "optim.g_lr"]
    if name == "dense":
        return ["compression", "hashes", *[f"model.{k}" for k in m if k != "name"], *g_keys]
    if name in ("equal_nn", "lrd", "rer"):   # they read the compression (rer its seed too)
        kept = ("name", "hash_seed") if name == "rer" else ("name",)
        return ["hashes", *[f"model.{k}" for k in m if k not in kept], *g_keys]
    unread = []
    if name == "hashednets":
        unread += ["model.g_bias", "model.g_scope", "model.dual_share", "model.layer_scale",
                   "model.g_init", "model.step_scale"]
        return unread + g_keys
    dual, g_layers = m.get("dual"), m.get("g_layers")
    if m.get("hops", 1) == 1:   # one hop: records made before multi-hop keep their signatures
        unread += ["model.hops", "model.hop_ratio"]
    if not dual:
        unread.append("model.dual_share")
    if m.get("space") == "per_layer":
        unread.append("model.layer_scale")
    if dual or g_layers == 1:   # no g with parameters of its own
        unread += ["model.g_scope", *g_keys]
    if g_layers == 1:
        unread.append("model.g_bias")
    if dual or g_layers == 1 or m.get("g_init") == "sign":   # sign: the init before the key
        unread.append("model.g_init")
    if m.get("step_scale") == "none":   # the behaviour before the key
        unread.append("model.step_scale")
    return unread


def effective_config(config: dict, drop: Iterable[str] = ()) -> dict:
    """`config` without NON_RESULT_KEYS, non-result dataset keys, unread keys and `drop`
    (top-level or dotted keys)."""
    kept = copy.deepcopy({k: v for k, v in config.items() if k not in NON_RESULT_KEYS
                          and not (k in NEUTRAL and v == NEUTRAL[k])})
    dotted = [*unread_keys(config), *(f"dataset.{k}" for k in NON_RESULT_DATASET_KEYS), *drop]
    if (config.get("distill") or {}).get("teacher_optim") is None:   # the teacher's as before
        dotted.append("distill.teacher_optim")
    for key in dotted:
        *parents, leaf = key.split(".")
        node = kept
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return kept


def signature(config: dict, drop: Iterable[str] = ()) -> str:
    """12-hex-digit hash of `effective_config(config, drop)`."""
    text = json.dumps(effective_config(config, drop), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
