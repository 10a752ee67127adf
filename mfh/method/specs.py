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
G_INITS = ("orthogonal", "sign")   # mfh.method.reconstruction
STEP_SCALES = ("none", "layer")     # mfh.method.virtual.FunctionalWeight


class SpecError(ValueError):
    """A `HashingSpec` the method cannot build; one line naming the key and what is allowed."""


# Per-model defaults of the fields left None: HashedNets is one hash, identity g, a space per
# layer; MFH the paper's reference U4-G3 on a shared space; dense and the baselines read none.
MODEL_DEFAULTS = {
    "mfh": {"hashes": 4, "space": "shared", "g_layers": 3, "layer_scale": "fan_in",
            "dual_share": 0.25},
    "hashednets": {"hashes": 1, "space": "per_layer", "g_layers": 1, "layer_scale": "none",
                   "dual_share": 0.0},
}
PLAIN_DEFAULTS = {"hashes": 1, "space": "per_layer", "g_layers": 1, "layer_scale": "none",
                  "dual_share": 0.0}


@dataclass(frozen=True)
class HashingSpec:
    """How the weight layers of a network are stored; refuses, with `SpecError`, every
    combination the method cannot build (the harness's config checks are these checks).

    `model`: dense | hashednets | mfh, or a baseline at the same budget: equal_nn | lrd | rer
    (`mfh.method.baselines`; RER draws its kept connections from `hash_seed`). `hashes`: U.
    `compression`: nominal stored / virtual parameters. `space`: one compression space for
    the network (`shared`) or one per layer.
    `g_layers`: depth G of g (1 = identity). `g_scope`: one g (`global`) or one per layer.
    `g_init`: how g's weights start (`G_INITS`, mfh.method.reconstruction).
    `step_scale`: with a shared space and `layer_scale=fan_in`, `layer` scales the gradient
    that layer l sends to w by 1 / s_l^2 (s_l its layer scale), so that one SGD step moves its
    virtual weights as far as HashedNets' (`none`: unscaled, the behaviour before issue 25).
    `dual`: -D, g's parameters hashed per weight from a second space w' that gets `dual_share`
    of the hashed budget. `hash_bias`: biases are the last column of the virtual matrix.
    `index_mode`: keep the hash codes (`precomputed`) or hash at every call (`recomputed`).
    `layer_scale`: with a shared space, V = sqrt(fan_max / fan_in) * g(...) (`fan_in`) or not.
    `hops`: 2 makes the shared space itself virtual (FunHashNN's multi-hop space, label -H2):
    its values are rebuilt by a second g from a stored space `hop_ratio` times its size.
    Fields left None take the model's defaults (`MODEL_DEFAULTS`): `HashingSpec(model=
    "hashednets")` is HashedNets, `HashingSpec()` is U4-G3.
    """

    model: str = "mfh"
    hashes: int | None = None
    compression: float = 0.125
    space: str | None = None
    g_layers: int | None = None
    g_bias: bool = False
    g_scope: str = "global"
    dual: bool = False
    dual_share: float | None = None
    hash_bias: bool = False
    hash_seed: int = 1691
    index_mode: str = "precomputed"
    layer_scale: str | None = None
    hops: int = 1
    hop_ratio: float = 0.5
    g_init: str = "orthogonal"
    step_scale: str = "none"

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        for key, value in MODEL_DEFAULTS.get(self.model, PLAIN_DEFAULTS).items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        _check(self)

    @property
    def has_g(self) -> bool:
        """Whether g has parameters of its own (not the identity, not hashed by -D)."""
        return self.model == "mfh" and self.g_layers > 1 and not self.dual

    @property
    def label(self) -> str:
        return format_label(self.model, self.hashes, self.g_layers, self.dual, self.hops)


def check_choice(key: str, value: object, allowed: tuple) -> None:
    """SpecError unless `value` is one of `allowed`, of the same type (True is not 1)."""
    if not any(value == a and type(value) is type(a) for a in allowed):
        raise SpecError(f"{key}={value!r} is not allowed; allowed: "
                        f"{', '.join(str(a) for a in allowed)}")


def _check(s: HashingSpec) -> None:
    """The combinations `HashingSpec` refuses (messages name the harness's config keys)."""
    if not 0 < s.compression <= 1:
        raise SpecError(f"compression={s.compression!r} is outside (0, 1]")
    if s.model in ("dense", "equal_nn", "lrd", "rer"):
        return   # they read the compression (RER its hash seed too) and nothing else
    if s.model == "hashednets" and s.hashes != 1:
        raise SpecError(f"hashes={s.hashes} is not allowed with model=hashednets (only 1); "
                        "use model=mfh for several hashes")
    if not (isinstance(s.hashes, int) and 1 <= s.hashes <= MAX_HASHES):
        raise SpecError(f"hashes={s.hashes!r} is not allowed; use an integer in 1..{MAX_HASHES}")
    for key, value, allowed in (("model.space", s.space, SPACES),
                                ("model.g_layers", s.g_layers, G_LAYERS),
                                ("model.g_scope", s.g_scope, G_SCOPES),
                                ("model.g_init", s.g_init, G_INITS),
                                ("model.step_scale", s.step_scale, STEP_SCALES),
                                ("model.index_mode", s.index_mode, INDEX_MODES),
                                ("model.layer_scale", s.layer_scale, LAYER_SCALES),
                                ("model.hops", s.hops, HOPS)):
        check_choice(key, value, allowed)
    if s.hops == 2 and (s.model == "hashednets" or s.space != "shared" or s.dual):
        raise SpecError("model.hops=2 makes the shared space virtual: it needs model=mfh with "
                        "model.space=shared and model.dual=false")
    if s.model == "hashednets" and (s.space != "per_layer" or s.g_layers != 1 or s.dual):
        raise SpecError("model=hashednets is one hash, identity g and a per-layer space; "
                        "use model=mfh to change model.space, model.g_layers or model.dual")
    if s.g_layers == 1 and s.hashes != 1:
        raise SpecError(f"model.g_layers=1 (identity g) needs hashes=1, got hashes={s.hashes}")
    if s.dual and s.g_layers == 1:
        raise SpecError("model.dual=true needs a reconstruction network (model.g_layers >= 2)")
    if s.dual and not 0 < s.dual_share < 1:
        raise SpecError(f"model.dual_share={s.dual_share!r} is outside (0, 1) "
                        "with model.dual=true")
    if s.step_scale == "layer" and (s.model != "mfh" or s.space != "shared"
                                    or s.layer_scale != "fan_in"):
        raise SpecError("model.step_scale=layer undoes the layer scale of a shared space: it "
                        "needs model=mfh with model.space=shared and model.layer_scale=fan_in")
    if not 0 < s.hop_ratio <= 1:
        raise SpecError(f"model.hop_ratio={s.hop_ratio!r} is outside (0, 1]")


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
