"""Training health (issue 25): the rule, records, tables that mark and list unhealthy runs, the
health grid, and the library's front door (HashingSpec refuses what the harness refuses)."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from test_tables import MFH, ROOT, load_script, put

from mfh.harness.config import ConfigError, compose_config, model_specs, to_dict
from mfh.harness.health import record_health, training_health
from mfh.harness.models import build_model
from mfh.harness.records import read_record, record_path, write_record
from mfh.method import HashingSpec, LayerSpec, weight_layers
from mfh.method import kernels as native
from mfh.method.specs import SpecError
from mfh.report.health_grid import counts, load_health_grid, points
from mfh.report.tables import generic_table, to_csv, to_markdown

LN10 = math.log(10)


@pytest.mark.parametrize("losses, diverged_at, expected", [
    ([1.1, 0.5, 0.4], None, {"status": "ok", "epoch": None}),
    ([LN10, 2.29, 0.9, 0.4], None, {"status": "plateau", "epoch": 2}),
    ([2.3026, 2.3026, 2.3025], None, {"status": "dead", "epoch": 3}),
    ([4e4, 2.30, 2.30], None, {"status": "diverged", "epoch": 1}),
    ([0.9, math.nan], None, {"status": "diverged", "epoch": 2}),
    ([0.9], 2, {"status": "diverged", "epoch": 2}),
    ([], 1, {"status": "diverged", "epoch": 1}),
    ([2.2], None, {"status": "ok", "epoch": None}),   # 4.5% below chance: it has left
])
def test_health_rule(losses, diverged_at, expected):
    assert training_health(losses, 10, diverged_at) == expected


def test_health_of_two_classes_and_of_a_distilled_run():
    assert training_health([math.log(2)] * 3, 2)["status"] == "dead"
    # distilled: the loss scale is not the cross-entropy's; validation error decides
    assert training_health([9.0, 5.0], 10, valid_errors=[89.0, 20.0]) == {"status": "plateau",
                                                                         "epoch": 1}
    assert training_health([9.0, 5.0], 10, valid_errors=[30.0, 20.0])["status"] == "ok"


def test_health_of_records_made_before_it_existed(tmp_path):
    config = put(tmp_path, MFH, 0, 5.0)
    record = read_record(record_path(tmp_path, config, 0))
    assert "health" not in record["metrics"] and record_health(record)["status"] == "ok"
    record["metrics"]["curves"]["train_loss"] = [LN10, LN10]
    assert record_health(record) == {"status": "dead", "epoch": 2}
    failed = read_record(record_path(tmp_path, put(tmp_path, MFH, 1, None), 1))
    assert record_health(failed) == {"status": "diverged", "epoch": 1}   # "loss is NaN"


def test_a_run_records_its_health(tmp_path):
    from mfh.harness.runner import run

    cfg = compose_config(["model=mfh", "epochs=1", "train_limit=300", "logger=none",
                          f"results_dir={tmp_path}", "checkpoint=false"])
    path, status = run(cfg)
    assert status == "ok"
    assert read_record(path)["metrics"]["health"] == {"status": "ok", "epoch": None}


def _sick_results(tmp_path):
    put(tmp_path, ["model=hashednets"], 0, 3.0)
    for seed, error in enumerate([4.0, 90.0]):
        config = put(tmp_path, MFH, seed, error)
    path = record_path(tmp_path, config, 1)
    record = read_record(path)
    record["metrics"]["curves"]["train_loss"] = [LN10, LN10]   # seed 1 never trained
    write_record(path, record)
    return tmp_path


def test_tables_mark_cells_that_average_unhealthy_runs(tmp_path):
    from mfh.harness.records import iter_records

    table = generic_table(iter_records(_sick_results(tmp_path)))
    md = to_markdown(table)
    assert "| U4-G3 | 47.00 ± 43.00 (2)† |" in md and "| HashedNets | **3.00 (1)** |" in md
    assert "U4-G3 on mnist5k (1 dead)" in md
    rows = {r["configuration"]: r for r in csv.DictReader(io.StringIO(to_csv(table)))}
    assert (rows["U4-G3"]["mnist5k_unhealthy"], rows["HashedNets"]["mnist5k_unhealthy"]) == \
        ("1", "0")


def test_tables_cli_lists_unhealthy_runs(tmp_path, capsys):
    results = _sick_results(tmp_path)
    assert load_script("tables").main(["--results-dir", str(results), "--health"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dead     epoch 2  U4-G3 on mnist5k seed=1  ")
    assert out[-1].startswith("1 of 3 records did not train well")


def test_tables_cli_names_the_only_record_when_it_is_unreadable(tmp_path, capsys):
    config = put(tmp_path, MFH, 0, 5.0)
    path = record_path(tmp_path, config, 0)
    path.write_text(path.read_text()[:30])
    assert load_script("tables").main(["--results-dir", str(tmp_path)]) == 2
    assert f"unreadable record {path}" in capsys.readouterr().err


def test_health_grid_points_and_counts():
    grid = load_health_grid(ROOT / "experiments" / "health.yaml")
    grid_points = points(grid)
    assert len(grid_points) == len(grid.rows) * len(grid.recipes) * len(grid.inits)
    hashednets = [p for p in grid_points if p.row.label == "HashedNets"]
    assert hashednets and not any("model.g_init" in o for p in hashednets for o in p.overrides)
    for p in grid_points:   # every point composes and validates
        model_specs(compose_config([*grid.common, *p.overrides]))
    import pandas as pd

    frame = pd.DataFrame({"label": ["U4-G3"] * 3, "arch": ["mlp3"] * 3, "recipe": ["r"] * 3,
                          "init": ["before", "before", "after"],
                          "health": ["dead", "ok", "ok"]})
    table = counts(frame)
    assert table[["init", "ok", "dead", "plateau", "diverged", "n"]].values.tolist() == [
        ["before", 1, 1, 0, 0, 2], ["after", 1, 0, 0, 0, 1]]


# ----------------------------------------------------------------------------- front door

HARNESS_REFUSES = [
    (["model=hashednets", "hashes=4"], "hashes=4 is not allowed with model=hashednets"),
    (["model=hashednets", "model.space=shared"], "model=hashednets is one hash"),
    (["model=mfh", "model.g_layers=1"], "model.g_layers=1 (identity g) needs hashes=1"),
    (["model=mfh", "hashes=1", "model.g_layers=1", "model.dual=true"],
     "model.dual=true needs a reconstruction network"),
    (["model=mfh", "model.hops=2", "model.space=per_layer"], "model.hops=2 makes the shared"),
    (["model=mfh", "model.g_init=xavier"], "model.g_init='xavier' is not allowed"),
    (["model=mfh", "model.space=both"], "model.space='both' is not allowed"),
]


@pytest.mark.parametrize("overrides, message", HARNESS_REFUSES)
def test_the_library_refuses_what_the_harness_refuses_with_the_same_message(overrides,
                                                                            message):
    with pytest.raises(ConfigError) as harness:
        model_specs(compose_config(overrides))
    assert message in str(harness.value)
    m = to_dict(compose_config(overrides))["model"]
    fields = {k: m[k] for k in ("space", "g_layers", "dual", "hops", "g_init") if k in m}
    hashes = next((int(o.split("=")[1]) for o in overrides if o.startswith("hashes=")), None)
    with pytest.raises(SpecError) as library:
        HashingSpec(model=m["name"], hashes=hashes, **fields)
    assert str(library.value) == str(harness.value)


def test_a_bad_init_stops_run_py_with_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "run.py", "model=mfh", "model.g_init=xavier",
                           f"results_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "model.g_init='xavier' is not allowed; allowed: orthogonal, sign")
    assert len(proc.stderr.strip().splitlines()) == 1 and not any(tmp_path.iterdir())


def test_hashednets_from_the_library_is_the_harness_hashednets():
    """The issue's example: `HashingSpec(model="hashednets", compression=0.125)` is HashedNets
    (one hash, a space per layer), equal to the harness's, parameter for parameter."""
    spec = HashingSpec(model="hashednets", compression=0.125)
    arch, harness = model_specs(compose_config(["model=hashednets"]))
    assert spec == harness
    torch.manual_seed(0)
    mine = build_model(arch, spec, (1, 28, 28), 10)
    torch.manual_seed(0)
    theirs = build_model(arch, harness, (1, 28, 28), 10)
    for a, b in zip(mine.state_dict().values(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b)


SPECS = [HashingSpec(model="hashednets"), HashingSpec(model="hashednets", hash_bias=True),
         *(HashingSpec(hashes=u, g_layers=g) for u in (1, 2, 3, 4, 8, 16) for g in (2, 3, 4)),
         HashingSpec(hashes=1, g_layers=1), HashingSpec(hashes=1, g_layers=1, space="per_layer"),
         HashingSpec(space="per_layer"), HashingSpec(g_scope="layer"),
         HashingSpec(g_bias=True), HashingSpec(g_init="sign"), HashingSpec(layer_scale="none"),
         HashingSpec(dual=True), HashingSpec(dual=True, g_layers=2, g_bias=True),
         HashingSpec(dual=True, space="per_layer"), HashingSpec(hops=2),
         HashingSpec(index_mode="recomputed"), HashingSpec(hash_bias=True)]


@pytest.mark.skipif(native.library() is None, reason="native kernels unavailable")
@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.label}-{k}" for k, s in enumerate(SPECS)])
def test_native_kernels_equal_the_reference_for_every_spec_accepted(spec):
    """Outputs and every gradient of a two-layer hashed net (float64), native against the
    reference backend: finite and equal for every kind of spec the library accepts."""
    layers = [LayerSpec("linear", 60, 40), LayerSpec("linear", 40, 8)]
    torch.manual_seed(0)
    modules = torch.nn.ModuleList(weight_layers(replace(spec, compression=0.5), layers)).double()
    x = torch.randn(7, 60, dtype=torch.float64)
    results = []
    for backend in ("native", "reference"):
        modules.zero_grad(set_to_none=True)
        with native.use_backend(backend):
            out = modules[1](torch.tanh(modules[0](x)))
            out.square().sum().backward()
        results.append([out.detach(), *(p.grad.clone() for p in modules.parameters())])
    for a, b in zip(*results, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
