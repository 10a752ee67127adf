"""Composing and validating run configurations: the harness's door.

`validate(cfg)` is the single home of the rules: it checks every value of a composed config
once and returns a frozen `RunSpec` (nothing below the harness sees a DictConfig).
`precheck(argv)` runs before Hydra in `run.py`: it parses the command line with Hydra's own
override parser and answers unknown keys, unknown group options and bad values in one line.
"""

from __future__ import annotations

import difflib
import itertools
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mfh import numerics
from mfh.harness.signature import signature
from mfh.harness.specs import ArchSpec, DataSpec, DistillSpec, LoggerSpec, OptimSpec, RunSpec
from mfh.method.specs import MAX_HASHES, MODELS, HashingSpec, SpecError, check_choice

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
G_OPTIMIZERS = ("adam", "sgd")
LOGGERS = ("none", "wandb")
MAX_GROUP_COMBINATIONS = 64   # precheck composes each combination of swept config groups
MAX_SWEEP_CONFIGS = 5000      # precheck lists every job's config up to this many jobs


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message names the key and the options."""


def compose_config(overrides: Iterable[str] = ()) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides, as `run.py` would (without running)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def group_options(group: str, folders: Iterable[Path] = (CONF_DIR,)) -> list[str]:
    """Names of the options of one config group, e.g. `group_options("model")`, in conf/ and
    any other config folders given (those of `hydra.searchpath`)."""
    return sorted({p.stem for folder in folders for p in (folder / group).glob("*.yaml")})


def to_dict(cfg: DictConfig) -> dict:
    """The resolved configuration as a plain dict (without Hydra's own node)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    data.pop("hydra", None)
    return data


def set_dotted(config: dict, key: str, value: object) -> None:
    """config[a][b] = value for the dotted key "a.b" (missing levels created)."""
    *parents, leaf = key.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[leaf] = value


# ----------------------------------------------------------------------------- value checks


def _choice(key: str, value: Any, allowed: Iterable[Any]) -> Any:
    """`value` if it is one of `allowed` (`check_choice`, the method library's rule), else
    ConfigError with its message."""
    try:
        check_choice(key, value, tuple(allowed))
    except SpecError as err:
        raise ConfigError(str(err)) from None
    return value


def _int(key: str, value: Any, low: int = 0, high: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        span = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"{key}={value!r} is not allowed; use an integer {span}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is not allowed; use true or false")
    return value


def _number(key: str, value: Any, low: float, high: float = math.inf,
            low_open: bool = False, high_open: bool = True) -> float:
    """`value` as a float in the interval, else ConfigError naming it, e.g. "(0, 1]"."""
    if math.isinf(high):
        span = f"{'>' if low_open else '>='} {low:g}"
    else:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is not a number; use a number {span}")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        raise ConfigError(f"{key}={value!r} is outside {span}" if span[0] in "([" else
                          f"{key}={value!r} is not allowed; use a number {span}")
    return float(value)


def _device(value: Any) -> str:
    """A torch device string this machine has."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        device = None
    backend = None if device is None else getattr(torch, device.type, None)
    available = device is not None and (device.type == "cpu" or (
        hasattr(backend, "is_available") and backend.is_available()))
    if not available:
        have = ["cpu"] + [t for t in ("cuda", "mps") if getattr(torch, t).is_available()]
        raise ConfigError(f"device={value!r} is not available on this machine; "
                          f"allowed: {', '.join(have)}")
    return str(value)


def _writable_dir(key: str, value: Any) -> str:
    """A folder that exists (created if needed) and accepts a file."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}={value!r} is not allowed; use a folder path")
    try:
        Path(value).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=value):
            pass
    except OSError as err:
        raise ConfigError(f"{key}={value!r} cannot be written ({err.strerror}); "
                          "use a folder you can write") from None
    return value


# ----------------------------------------------------------------------------- validate


def _plain(cfg: DictConfig | dict) -> dict:
    return to_dict(OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg)


def model_specs(cfg: DictConfig | dict) -> tuple[ArchSpec, HashingSpec]:
    """The network's specs alone (what a checkpoint or the cost benchmark needs)."""
    config = _plain(cfg)
    return _arch(config["arch"]), _hashing(config)


def data_spec(cfg: DictConfig | dict) -> DataSpec:
    """The dataset's spec alone (what the dataset tools and tests need)."""
    return _data(_plain(cfg))


def validate(cfg: DictConfig | dict) -> RunSpec:
    """The typed spec of a composed configuration; ConfigError for a value not allowed."""
    try:
        return _validate(_plain(cfg))
    except KeyError as err:
        raise ConfigError(f"key {err.args[0]!r} is missing from the configuration") from None


def _validate(config: dict) -> RunSpec:
    hashing = _hashing(config)
    seed = _int("seed", config["seed"])
    epochs = _int("epochs", config["epochs"], 1)
    limit = config["train_limit"]
    train_limit = None if limit is None else _int("train_limit", limit, 1)
    return RunSpec(
        seed=seed, epochs=epochs, train_limit=train_limit,
        results_dir=_writable_dir("results_dir", config["results_dir"]),
        device=_device(config["device"]), checkpoint=_bool("checkpoint", config["checkpoint"]),
        hashing=hashing, arch=_arch(config["arch"]), optim=_optim(config["optim"]),
        data=_data(config), logger=_logger(config["logger"]), config=config,
        signature=signature(config),
        threads=_threads(config),
        lock_wait=_bool("lock_wait", config["lock_wait"]),
        patience=None if config["patience"] is None else _int("patience", config["patience"], 1),
        test_eval=_choice("test_eval", config["test_eval"], ("best", "every")),
        distill=_distill(config.get("distill"), hashing))


def _distill(distill: dict | None, hashing: HashingSpec) -> DistillSpec | None:
    if distill is None:
        return None
    if hashing.model == "dense":
        raise ConfigError("distill is for a compressed student; model=dense is the teacher")
    teacher_optim = distill.get("teacher_optim")
    if teacher_optim is not None:
        known = set(OptimSpec.__dataclass_fields__)
        if not isinstance(teacher_optim, dict) or not set(teacher_optim) <= known:
            raise ConfigError(f"distill.teacher_optim={teacher_optim!r} must map optim keys "
                              f"({', '.join(sorted(known))}) to values")
        teacher_optim = dict(teacher_optim)
    return DistillSpec(
        temperature=_number("distill.temperature", distill["temperature"], 0, low_open=True),
        weight=_number("distill.weight", distill["weight"], 0, 1), teacher_optim=teacher_optim)


def _threads(config: dict) -> int | None:
    """The job's torch threads: `threads`, else all cores (None); in portable numerics,
    `threads`, else `numerics.PORTABLE_THREADS` (its numbers do not depend on the count)."""
    mode = _choice("numerics", config["numerics"], numerics.MODES)
    if mode != numerics.active():
        raise ConfigError(f"numerics={mode} is not the mode this process started in "
                          f"({numerics.active()}); it must be set before torch starts: pass "
                          f"numerics={mode} on run.py's command line or set MFH_NUMERICS={mode}")
    threads = config["threads"]
    if threads is None:
        return numerics.PORTABLE_THREADS if mode == "portable" else None
    return _int("threads", threads, 1)


def _hashing(config: dict) -> HashingSpec:
    """The hashing spec: values typed here, choices and combinations checked by HashingSpec
    itself (the library refuses what the harness refuses, with the same message)."""
    m = config["model"]
    model = m.get("name")
    if model not in MODELS:
        raise ConfigError(f"model={model!r} is unknown; allowed: {', '.join(MODELS)}")
    compression = _number("compression", config["compression"], 0, 1, low_open=True,
                          high_open=False)
    hashes = _int("hashes", config["hashes"], 1, MAX_HASHES)
    try:
        if model == "dense":
            return HashingSpec(model="dense", hashes=hashes, compression=compression)
        if model in ("equal_nn", "lrd"):
            return HashingSpec(model=model, compression=compression)
        if model == "rer":
            return HashingSpec(model=model, compression=compression,
                               hash_seed=_int("model.hash_seed", m["hash_seed"], 0, 2**32 - 5))
        return HashingSpec(
            model=model, hashes=hashes, compression=compression, space=m["space"],
            g_layers=m["g_layers"], g_bias=_bool("model.g_bias", m["g_bias"]),
            g_scope=m["g_scope"], dual=_bool("model.dual", m["dual"]),
            dual_share=_number("model.dual_share", m["dual_share"], 0, 1),
            hash_bias=_bool("model.hash_bias", m["hash_bias"]),
            hash_seed=_int("model.hash_seed", m["hash_seed"], 0, 2**32 - 5),
            index_mode=m["index_mode"], layer_scale=m["layer_scale"], hops=m.get("hops", 1),
            hop_ratio=_number("model.hop_ratio", m.get("hop_ratio", 0.5), 0, 1, low_open=True),
            # MFH records made before g_init existed were made with the sign init
            **({"g_init": m.get("g_init", "sign")} if model == "mfh" else {}),
            step_scale=m.get("step_scale", "none"))
    except SpecError as err:
        raise ConfigError(str(err)) from None


def _arch(arch: dict) -> ArchSpec:
    hidden = arch.get("hidden")
    if not isinstance(hidden, list):
        raise ConfigError(f"arch.hidden={hidden!r} is not allowed; use a list of widths")
    conv = arch.get("conv", [])
    if not isinstance(conv, list) or not all(isinstance(c, list) and len(c) == 3 for c in conv):
        raise ConfigError(f"arch.conv={conv!r} is not allowed; "
                          "use a list of [out channels, kernel, padding]")
    return ArchSpec(
        name=str(arch.get("name")),
        hidden=tuple(_int("arch.hidden", h, 1) for h in hidden),
        conv=tuple((_int("arch.conv", o, 1), _int("arch.conv", k, 1), _int("arch.conv", p))
                   for o, k, p in conv),
        dropout_input=_number("arch.dropout_input", arch.get("dropout_input", 0.0), 0, 1),
        dropout_hidden=_number("arch.dropout_hidden", arch.get("dropout_hidden", 0.0), 0, 1))


def _optim(optim: dict) -> OptimSpec:
    return OptimSpec(
        lr=_number("optim.lr", optim["lr"], 0, low_open=True),
        lr_decay=_number("optim.lr_decay", optim["lr_decay"], 0),
        momentum=_number("optim.momentum", optim["momentum"], 0, 1),
        weight_decay=_number("optim.weight_decay", optim["weight_decay"], 0),
        batch_size=_int("optim.batch_size", optim["batch_size"], 1),
        g_optimizer=_choice("optim.g_optimizer", optim["g_optimizer"], G_OPTIMIZERS),
        g_lr=_number("optim.g_lr", optim["g_lr"], 0, low_open=True))


def _data(config: dict) -> DataSpec:
    from mfh.data import LOADERS

    options = config["dataset"]
    name = options.get("name")
    if name is None:
        raise ConfigError("dataset.name is missing")
    if name not in LOADERS:
        raise ConfigError(f"dataset.name={name!r} has no loader; loaders: "
                          f"{', '.join(sorted(LOADERS))} (docs/datasets.md, 'Adding a dataset')")
    return DataSpec(name=name, options=options, data_seed=_data_seed(config),
                    data_dir=str(config["data_dir"]),
                    download=_bool("download", config["download"]))


def _data_seed(config: dict) -> int:
    """`data_seed`: an integer, or `seed` (each training seed draws its own split; the records
    of one configuration keep one signature)."""
    value = config["data_seed"]
    if value == "seed":
        return _int("seed", config["seed"])
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"data_seed={value!r} is not allowed; use an integer >= 0, or seed "
                          "(each seed its own split)")
    return value


def _logger(logger: dict) -> LoggerSpec:
    name = _choice("logger", logger.get("name"), LOGGERS)
    if name == "none":
        return LoggerSpec("none")
    return LoggerSpec(name, str(logger["project"]),
                      _choice("logger.mode", logger["mode"], ("offline", "online", "disabled")),
                      str(logger["dir"]),
                      _bool("logger.log_checkpoint", logger.get("log_checkpoint", False)))


# ----------------------------------------------------------------------------- precheck


def _command_line_overrides(argv: list[str]) -> list[Override]:
    """The overrides among `run.py`'s arguments, parsed by Hydra's own parser."""
    texts = [a for a in argv if not a.startswith("-") and ("=" in a or a.startswith("~"))]
    try:
        return OverridesParser.create().parse_overrides(texts)
    except HydraException as err:
        raise ConfigError(str(err).strip().splitlines()[0]) from None


def _values(override: Override) -> list[Any]:
    """The values of an override: one, or every value of a sweep (typed)."""
    if override.is_sweep_override():
        return list(override.sweep_iterator())
    return [override.value()]


def _group_values(override: Override, group: str, folders: list[Path]) -> list[str]:
    options = group_options(group, folders)
    if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
        chosen = override.value().filter(options)
        if not chosen:
            raise ConfigError(f"{override.input_line} matches no option of {group}; "
                              f"allowed: {', '.join(options)}")
        return chosen
    values = [str(v) for v in _values(override)]
    for value in values:
        if value not in options:
            raise ConfigError(f"{group}={value!r} is unknown; allowed: {', '.join(options)}")
    return values


def _dotted_keys(cfg: DictConfig) -> list[str]:
    """Every key of a config, nested ones dotted: "epochs", "model", "model.g_layers", ..."""
    keys = []
    for key, value in cfg.items():
        keys.append(str(key))
        if isinstance(value, DictConfig):
            keys += [f"{key}.{sub}" for sub in _dotted_keys(value)]
    return keys


def _check_known(override: Override, cfg: DictConfig) -> None:
    key = override.key_or_group
    if OmegaConf.select(cfg, key, default=_ABSENT) is not _ABSENT:
        return
    known = _dotted_keys(cfg)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "`python run.py --cfg job` lists the keys"
    raise ConfigError(f"unknown key {key!r}; {hint}")


_ABSENT = object()


def _with_value(override: Override, value: Any) -> str:
    """The override text setting one value (Hydra's own quoting of strings)."""
    prefix = {OverrideType.ADD: "+", OverrideType.FORCE_ADD: "++"}.get(override.type, "")
    return f"{prefix}{override.key_or_group}={Override._get_value_element_as_str(value)}"


@dataclass(frozen=True)
class Sweep:
    """What a command line will run: `jobs`, their number, and `configs`, every job's composed
    config in the order Hydra's basic sweeper launches them (None past MAX_SWEEP_CONFIGS
    jobs or MAX_GROUP_COMBINATIONS combinations of config groups)."""

    jobs: int
    configs: list[DictConfig] | None


def precheck(argv: list[str]) -> Sweep:
    """Raise ConfigError, one line, for command-line overrides that cannot run; else return
    the jobs they make (the product of the sweeps' lengths, as Hydra's sweeper).

    Checks group options (sweeps, choice() and glob() included), that every other key exists
    in the composed config (with the closest known key as a hint), and every value of every
    sweep with `validate`, for each combination of the swept config groups.
    """
    groups: dict[str, list[str]] = {}
    others: list[Override] = []
    multirun = "-m" in argv or "--multirun" in argv
    overrides = _command_line_overrides(argv)
    search = [o for o in overrides if o.key_or_group == "hydra.searchpath"]
    folders = [CONF_DIR, *(Path(str(p).removeprefix("file://")) for o in search
                           for p in o.value())]
    axes: dict[str, Override] = {}   # Hydra's order: first place of each key, last value
    for override in overrides:
        if override.is_sweep_override() and not multirun:
            raise ConfigError(f"{override.input_line} is a sweep; run it with -m (--multirun)")
        if not override.key_or_group.startswith("hydra"):
            axes[override.get_key_element()] = override
    for override in axes.values():
        key = override.key_or_group
        if override.type in (OverrideType.CHANGE, OverrideType.ADD) and any(
                (folder / key).is_dir() for folder in folders):
            prefix = "+" if override.type == OverrideType.ADD else ""
            groups[prefix + key] = _group_values(override, key, folders)
        else:
            others.append(override)
    combinations = list(itertools.product(*groups.values()))
    composed: dict[tuple[str, ...], DictConfig] = {}
    for combination in combinations[:MAX_GROUP_COMBINATIONS]:
        chosen = [o.input_line for o in search] + [
            f"{g}={v}" for g, v in zip(groups, combination, strict=True)]
        base = compose_config(chosen)
        for override in others:
            if override.type != OverrideType.DEL:
                _check_known(override, base)
        first = [o.input_line if o.type == OverrideType.DEL else _with_value(o, _values(o)[0])
                 for o in others]
        try:
            cfg = compose_config(chosen + first)
        except (HydraException, OmegaConfBaseException) as err:
            raise ConfigError(str(err).strip().splitlines()[0]) from None
        validate(cfg)
        for override in others:
            for value in _values(override)[1:]:
                variant = cfg.copy()
                OmegaConf.update(variant, override.key_or_group, value, force_add=True)
                validate(variant)
        composed[combination] = cfg
    jobs = math.prod(len(v) for v in groups.values()) * math.prod(
        len(_values(o)) for o in others if o.type != OverrideType.DEL)
    if len(combinations) > MAX_GROUP_COMBINATIONS or jobs > MAX_SWEEP_CONFIGS:
        return Sweep(jobs, None)
    return Sweep(jobs, _job_configs(list(axes.values()), groups, composed))


def _job_configs(axes: list[Override], groups: dict[str, list[str]],
                 composed: dict[tuple[str, ...], DictConfig]) -> list[DictConfig]:
    """Every job's config, in the order of Hydra's basic sweeper (the product of the axes in
    command-line order): the composed config of its groups, with its other values set."""
    group_keys = list(groups)
    values = []
    for override in axes:
        key = override.key_or_group
        group = ("+" if override.type == OverrideType.ADD else "") + key
        if group in groups:
            values.append([(group, v) for v in groups[group]])
        elif override.type == OverrideType.DEL:
            values.append([None])
        else:
            values.append([(key, v) for v in _values(override)])
    configs = []
    for job in itertools.product(*values):
        chosen = dict(pair for pair in job if pair is not None)
        cfg = composed[tuple(chosen[g] for g in group_keys)].copy()
        for key, value in chosen.items():
            if key not in groups:
                OmegaConf.update(cfg, key, value, force_add=True)
        configs.append(cfg)
    return configs
