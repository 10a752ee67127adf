"""Bad input is one line on stderr naming the key and what is allowed, exit 2, nothing written.

One subprocess through run.py per kind of failure; the rest in-process through `precheck`,
which run.py calls before Hydra starts.
"""

import pytest
from conftest import run_py

from mfh.harness.config import ConfigError, compose_config, precheck, validate


@pytest.mark.parametrize("args,message", [
    (["model=nope"],
     "model='nope' is unknown; allowed: dense, equal_nn, hashednets, lrd, mfh, rer"),
    (["epoch=3"], "unknown key 'epoch'; did you mean 'epochs'?"),
    (["epochs=three"], "epochs='three' is not allowed; use an integer >= 1"),
    (["device=tpu"], "device='tpu' is not available on this machine; allowed: cpu"),
    (["optim.lr=-1"], "optim.lr=-1 is not allowed; use a number > 0"),
    (["-m", "seed=0,1", "results_dir=/proc/mfh"], "results_dir='/proc/mfh' cannot be written"),
    (["dataset.name=nope"], "dataset.name='nope' has no loader"),
])
def test_run_py_answers_one_line_exit_2_and_writes_nothing(tmp_path, quick, args, message):
    proc = run_py(f"results_dir={tmp_path}", *quick, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["+epoch=3"], "unknown key 'epoch'; did you mean 'epochs'?"),
    (["model.g_layer=2", "model=mfh"], "unknown key 'model.g_layer'; did you mean 'model.g_l"),
    (["-m", "model=dense,mfh", "model.g_layers=2"], "unknown key 'model.g_layers'"),
    (["seed=abc"], "seed='abc' is not allowed; use an integer >= 0"),
    (["train_limit=abc"], "train_limit='abc' is not allowed; use an integer >= 1"),
    (["train_limit=0"], "train_limit=0 is not allowed; use an integer >= 1"),
    (["-m", "seed=0,abc"], "seed='abc' is not allowed"),
    (["checkpoint=maybe"], "checkpoint='maybe' is not allowed; use true or false"),
    (["device=cuda:7"], "device='cuda:7' is not available on this machine"),
    (["optim.batch_size=0"], "optim.batch_size=0 is not allowed; use an integer >= 1"),
    (["optim.momentum=1"], "optim.momentum=1 is outside [0, 1)"),
    (["optim.momentum=-0.1"], "optim.momentum=-0.1 is outside [0, 1)"),
    (["optim.lr=abc"], "optim.lr='abc' is not a number; use a number > 0"),
    (["optim.g_optimizer=rmsprop"], "optim.g_optimizer='rmsprop' is not allowed; allowed: adam"),
    (["optim.weight_decay=-1"], "optim.weight_decay=-1 is not allowed; use a number >= 0"),
    (["dataset.name=nope"], "dataset.name='nope' has no loader; loaders: basic"),
    (["dataset=nope"], "dataset='nope' is unknown; allowed:"),
    (["model=glob(*)"], "model=glob(*) is a sweep; run it with -m (--multirun)"),
    (["-m", "model=glob(x*)"], "model=glob(x*) matches no option of model"),
    (["-m", "model=choice(dense,nope)"], "model='nope' is unknown"),
    (["model=mfh", "model.dual=yes"], "model.dual='yes' is not allowed; use true or false"),
    (["model=mfh", "model.g_layers=true"], "model.g_layers=True is not allowed"),
    (["seed=("], "Error parsing override 'seed=('"),
    (["~epochs"], "key 'epochs' is missing from the configuration"),
])
def test_precheck_refuses(args, message):
    with pytest.raises(ConfigError) as err:
        precheck(args)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("args", [
    ["-m", "model=glob(*)"],
    ["-m", "model=choice(dense,mfh)", "seed=range(0,5)"],
    ["-m", "model=hashednets", "optim.lr=1e8,0.1"],
    ["model=mfh", "hashes=8", "model.g_layers=2"],
    ["hydra/launcher=basic", "hydra.verbose=true"],
    ["--cfg", "job", "epochs=3"],
])
def test_precheck_accepts_hydra_syntax(args, tmp_path):
    precheck([*args, f"results_dir={tmp_path}"])


def test_validate_returns_frozen_specs():
    spec = validate(compose_config(["model=mfh", "optim.lr=0.05", "logger=none"]))
    assert spec.label == "U4-G3" and spec.hashing.hashes == 4 and spec.optim.lr == 0.05
    assert spec.arch.hidden == (1000,) and spec.data.name == "mnist5k"
    with pytest.raises(AttributeError):
        spec.optim.lr = 1.0  # type: ignore[misc]


def test_precheck_counts_the_jobs_of_a_sweep(tmp_path):
    sweep = ["-m", "model=choice(dense,mfh)", "seed=range(0,5)", f"results_dir={tmp_path}"]
    assert precheck(sweep).jobs == 10
    assert precheck([f"results_dir={tmp_path}"]).jobs == 1
