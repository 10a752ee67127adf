"""What a hashed network is, as typed values: the hashing spec and the label grammar.

`HashingSpec` says how a network's weight layers are compressed (dense, HashedNets or MFH and
all of MFH's knobs). It is the method library's whole input besides the layer shapes; the
harness builds it from a validated config, and a user of the library builds it by hand.
The enumerations below are the allowed values; the harness's `validate` checks them once.

Labels name configurations in tables: `dense`, `HashedNets`, `U4-G3`, `U4-G3-D`, and the
baselines `NN`, `LRD`, `RER` (`format_label` / `parse_label`, the only place that grammar is
written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODELS = ("dense", "hashednets", "mfh", "equal_nn", "lrd", "rer")
BASELINE_LABELS = {"equal_nn": "NN", "lrd": "LRD", "rer": "RER"}   # mfh.method.baselines
SPACES = ("per_layer", "shared")
G_LAYERS = (1, 2, 3, 4)
G_SCOPES = ("global", "layer")
INDEX_MODES = ("precomputed", "recomputed")
LAYER_SCALES = ("fan_in", "none")
MAX_HASHES = 16

_MFH_LABEL = re.compile(r"U(\d+)-G(\d+)(-D)?(?:-H(\d+))?")
HOPS = (1, 2)


@dataclass(frozen=True)
class HashingSpec:
    """How the weight layers of a network are stored.

    `model`: dense | hashednets | mfh, or a baseline at the same budget: equal_nn | lrd | rer
    (`mfh.method.baselines`; RER draws its kept connections from `hash_seed`). `hashes`: U.
    `compression`: nominal stored / virtual parameters. `space`: one compression space for
    the network (`shared`) or one per layer.
    `g_layers`: depth G of g (1 = identity). `g_scope`: one g (`global`) or one per layer.
    `dual`: -D, g's parameters hashed per weight from a second space w' that gets `dual_share`
    of the hashed budget. `hash_bias`: biases are the last column of the virtual matrix.
    `index_mode`: keep the hash codes (`precomputed`) or hash at every call (`recomputed`).
    `layer_scale`: with a shared space, V = sqrt(fan_max / fan_in) * g(...) (`fan_in`) or not.
    `hops`: 2 makes the shared space itself virtual (FunHashNN's multi-hop space, label -H2):
    its values are rebuilt by a second g from a stored space `hop_ratio` times its size.
    """

    model: str = "mfh"
    hashes: int = 4
    compression: float = 0.125
    space: str = "shared"
    g_layers: int = 3
    g_bias: bool = False
    g_scope: str = "global"
    dual: bool = False
    dual_share: float = 0.25
    hash_bias: bool = False
    hash_seed: int = 1691
    index_mode: str = "precomputed"
    layer_scale: str = "fan_in"
    hops: int = 1
    hop_ratio: float = 0.5

    @property
    def has_g(self) -> bool:
        """Whether g has parameters of its own (not the identity, not hashed by -D)."""
        return self.model == "mfh" and self.g_layers > 1 and not self.dual

    @property
    def label(self) -> str:
        return format_label(self.model, self.hashes, self.g_layers, self.dual, self.hops)


@dataclass(frozen=True)
class LabelParts:
    """The parts of an MFH label `U<hashes>-G<g_layers>[-D][-H<hops>]`."""

    hashes: int
    g_layers: int
    dual: bool
    hops: int = 1


def format_label(model: str, hashes: int = 1, g_layers: int = 1, dual: bool = False,
                 hops: int = 1) -> str:
    """`dense`, `HashedNets`, a baseline's label (`NN`, `LRD`, `RER`), or
    `U<hashes>-G<g_layers>` with `-D` for dual-space hashing and `-H<hops>` for a multi-hop
    space."""
    if model == "dense":
        return "dense"
    if model in BASELINE_LABELS:
        return BASELINE_LABELS[model]
    if model == "hashednets":
        return "HashedNets"
    return f"U{hashes}-G{g_layers}" + ("-D" if dual else "") + (f"-H{hops}" if hops > 1 else "")


def parse_label(label: str) -> LabelParts | None:
    """The parts of an MFH label, or None for `dense`, `HashedNets`, the baselines and any
    other text."""
    match = _MFH_LABEL.fullmatch(label)
    if match is None:
        return None
    return LabelParts(int(match[1]), int(match[2]), bool(match[3]),
                      int(match[4]) if match[4] else 1)
