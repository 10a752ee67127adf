"""Composing and validating run configurations (Hydra + OmegaConf)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

G_LAYERS = (1, 2, 3, 4)
MAX_HASHES = 16


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message names the key and the options."""


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides, as `run.py` would (without running)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def group_options(group: str) -> list[str]:
    """Names of the options of one config group, e.g. `group_options("model")`."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def check_group_overrides(argv: list[str]) -> None:
    """Reject `group=value` command-line overrides that name no option of a config group.

    Runs before Hydra so that the error is one line naming the key and the allowed values.
    Comma-separated sweep values are checked one by one.
    """
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or "." in key or not (CONF_DIR / key).is_dir():
            continue
        for option in value.split(","):
            if option not in group_options(key):
                raise ConfigError(
                    f"{key}={option!r} is unknown; allowed: {', '.join(group_options(key))}"
                )


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for a configuration that cannot be run."""
    model = cfg.model.name
    if model not in group_options("model"):
        allowed = ", ".join(group_options("model"))
        raise ConfigError(f"model={model!r} is unknown; allowed: {allowed}")
    if cfg.dataset.name is None:
        raise ConfigError("dataset.name is missing")
    compression = cfg.compression
    if not isinstance(compression, (int, float)) or not 0 < compression <= 1:
        raise ConfigError(f"compression={compression!r} is outside (0, 1]")
    hashes = cfg.hashes
    if not isinstance(hashes, int) or not 1 <= hashes <= MAX_HASHES:
        raise ConfigError(f"hashes={hashes!r} is not allowed; use an integer in 1..{MAX_HASHES}")
    if model == "hashednets" and hashes != 1:
        raise ConfigError(f"hashes={hashes} is not allowed with model=hashednets (only 1); "
                          "use model=mfh for several hashes")
    if model == "hashednets" and (cfg.model.space != "per_layer" or cfg.model.g_layers != 1
                                  or cfg.model.dual):
        raise ConfigError("model=hashednets is one hash, identity g and a per-layer space; "
                          "use model=mfh to change model.space, model.g_layers or model.dual")
    if model in ("hashednets", "mfh"):
        _validate_hashed(cfg)
    if cfg.optim.g_optimizer not in ("adam", "sgd"):
        raise ConfigError(f"optim.g_optimizer={cfg.optim.g_optimizer!r} is not allowed; "
                          "allowed: adam, sgd")
    if cfg.epochs < 1:
        raise ConfigError(f"epochs={cfg.epochs!r} must be at least 1")
    if cfg.train_limit is not None and cfg.train_limit < 1:
        raise ConfigError(f"train_limit={cfg.train_limit!r} must be null or at least 1")


def _validate_hashed(cfg: DictConfig) -> None:
    m = cfg.model
    if m.space not in ("per_layer", "shared"):
        raise ConfigError(f"model.space={m.space!r} is not allowed; allowed: per_layer, shared")
    if m.g_layers not in G_LAYERS:
        raise ConfigError(f"model.g_layers={m.g_layers!r} is not allowed; allowed: 1, 2, 3, 4")
    if m.g_layers == 1 and cfg.hashes != 1:
        raise ConfigError(f"model.g_layers=1 (identity g) needs hashes=1, got hashes={cfg.hashes}")
    if m.g_scope not in ("global", "layer"):
        raise ConfigError(f"model.g_scope={m.g_scope!r} is not allowed; allowed: global, layer")
    if m.dual and m.g_layers == 1:
        raise ConfigError("model.dual=true needs a reconstruction network (model.g_layers >= 2)")
    if m.index_mode not in ("precomputed", "recomputed"):
        raise ConfigError(
            f"model.index_mode={m.index_mode!r} is not allowed; allowed: precomputed, recomputed"
        )


def label(cfg: DictConfig) -> str:
    """Table label of a configuration: `dense`, `HashedNets`, `U4-G3`, `U4-G3-D`."""
    name = cfg.model.name
    if name == "dense":
        return "dense"
    if name == "hashednets":
        return "HashedNets"
    return f"U{cfg.hashes}-G{cfg.model.g_layers}" + ("-D" if cfg.model.dual else "")


def to_dict(cfg: DictConfig) -> dict:
    """The resolved configuration as a plain dict (without Hydra's own node)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    data.pop("hydra", None)
    return data
