"""Configs compose through Hydra's compose API and bad values are rejected with clear errors."""

import pytest

from mfh.harness.config import ConfigError, compose_config, precheck, validate


@pytest.mark.parametrize("overrides,expected", [
    (["model=dense"], "dense"),
    (["model=hashednets"], "HashedNets"),
    (["model=mfh"], "U4-G3"),
    (["model=mfh", "hashes=8", "model.g_layers=2"], "U8-G2"),
    (["model=mfh", "model.dual=true"], "U4-G3-D"),
])
def test_compose_and_label(overrides, expected):
    cfg = compose_config(overrides + ["arch=mlp5", "dataset=mnist5k", "logger=none"])
    assert validate(cfg).label == expected
    assert list(cfg.arch.hidden) == [1000, 1000, 1000]
    assert cfg.optim.batch_size == 50 and cfg.optim.lr == 0.1 and cfg.optim.momentum == 0.9


def test_top_level_keys_exist():
    cfg = compose_config([])
    for key in ("seed", "hashes", "compression", "epochs", "train_limit", "results_dir"):
        assert key in cfg
    assert cfg.model.name == "dense" and cfg.dataset.name == "mnist5k"


@pytest.mark.parametrize("overrides,message", [
    (["compression=0"], "compression=0 is outside (0, 1]"),
    (["compression=1.5"], "compression=1.5 is outside (0, 1]"),
    (["model=mfh", "hashes=0"], "hashes=0 is not allowed"),
    (["model=mfh", "hashes=17"], "hashes=17 is not allowed"),
    (["model=hashednets", "hashes=4"], "hashes=4 is not allowed with model=hashednets"),
    (["model=hashednets", "model.space=shared"], "model=hashednets is one hash"),
    (["model=mfh", "model.g_layers=1"], "model.g_layers=1 (identity g) needs hashes=1"),
    (["model=mfh", "model.g_layers=5"], "model.g_layers=5 is not allowed"),
    (["model=mfh", "model.space=global"], "model.space='global' is not allowed"),
    (["model=mfh", "model.index_mode=lazy"], "model.index_mode='lazy' is not allowed"),
])
def test_bad_values_are_rejected(overrides, message):
    with pytest.raises(ConfigError) as err:
        validate(compose_config(overrides))
    assert message in str(err.value)


def test_unknown_group_options_are_named():
    with pytest.raises(ConfigError,
                       match="model='foo' is unknown; allowed: dense, equal_nn, hashednets"):
        precheck(["-m", "model=dense,foo"])
    with pytest.raises(ConfigError, match="dataset='nope' is unknown; allowed: .*mnist5k"):
        precheck(["dataset=nope"])
    precheck(["-m", "model=mfh", "model.g_layers=2", "seed=0,1"])


def test_data_seed_seed_gives_each_seed_its_split_under_one_signature():
    specs = [validate(compose_config(["data_seed=seed", f"seed={s}"])) for s in (3, 4)]
    assert [s.data.data_seed for s in specs] == [3, 4]
    assert specs[0].signature == specs[1].signature != validate(compose_config([])).signature
    with pytest.raises(ConfigError, match="data_seed='split' is not allowed; use an integer"):
        validate(compose_config(["data_seed=split"]))
