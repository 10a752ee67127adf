"""The cost benchmark: analytic FLOPs against torch's counter, the naive HashedNets row, memory,
and the benchmark script writing its files (with one timed call per measure, not timed here)."""

import contextlib
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from mfh.cost import cases, flops, measure, report
from mfh.cost.bench import Settings, render, run
from mfh.method import kernels as native

ROOT = Path(__file__).resolve().parents[1]


def tiny_case(kind: str) -> cases.Case:
    if kind == "conv":
        return cases.Case("conv", "conv", "cnn", cases.CIFAR_SHAPE, 1, (64, 16, 16), 256)
    return cases.CASES[kind]


@pytest.mark.parametrize("case_name,spec", [
    ("fc2", cases.DENSE), ("fc2", cases.HASHEDNETS), ("fc2", cases.NAIVE),
    ("fc2", cases.mfh_spec(4, 3)), ("fc2", cases.mfh_spec(2, 4)),
    ("fc2", cases.mfh_spec(4, 3, dual=True)), ("conv", cases.DENSE),
    ("conv", cases.mfh_spec(2, 3)), ("mlp3", cases.mfh_spec(1, 2)),
    ("mlp3", cases.ModelSpec("U4-G3 bias", ("model=mfh", "model.g_bias=true")))])
def test_analytic_flops_match_flop_counter(case_name, spec):
    case = tiny_case(case_name)
    module = cases.build(case, spec)
    x = cases.make_inputs(case, module, 3).x
    shapes = flops.layer_shapes(module, x[:1], network=case.layer is None)
    assert flops.counted_by_torch(shapes, 3) == flops.torch_count(module, x)


def test_flop_formulas_by_hand():
    layer = flops.LayerShape(rows=4, fan_in=6, positions=1, input_grad=False, n=24, slots=1)
    f = flops.count([layer], batch=5, stored=10, step=True)
    assert f.matmul == 2 * 2 * 5 * 4 * 6            # forward + weight gradient
    assert f.reconstruction == 24 * 1 + 24 * 2       # flip; flip + scatter-add
    assert f.optimizer == 40 and f.gathers == 48 and f.tanh == 0
    u4g3 = flops.LayerShape(rows=1, fan_in=10, positions=1, input_grad=True, n=10, slots=4,
                            widths=(4, 2, 1), scaled=True, g_mm=True)
    forward = flops.count([u4g3], batch=1, stored=0, step=False)
    assert forward.reconstruction == 10 * (4 + (2 * 4 * 2 + 2 * 2 * 1) + 1)
    assert forward.tanh == 20


def test_naive_weight_equals_hashednets():
    case = cases.CASES["fc2"]
    layer = cases.build(case, cases.HASHEDNETS)
    reference = layer.source
    naive = cases.NaiveWeight(reference)
    torch.testing.assert_close(naive(), reference(), rtol=0, atol=0)
    grad = torch.randn(10, 1000)
    naive().backward(grad)
    naive_grad = reference.space.w.grad.clone()
    reference.space.w.grad = None
    reference().backward(grad)
    torch.testing.assert_close(naive_grad, reference.space.w.grad, rtol=1e-5, atol=1e-6)


def test_peak_memory_counts_weights_gradients_and_momentum():
    case = cases.CASES["fc1"]
    layer = nn.Linear(784, 1000)
    inputs = cases.make_inputs(case, layer, 8)
    peak = measure.peak_train_bytes(case, layer, inputs, measure.make_optimizer(layer))
    params = sum(p.nbytes for p in layer.parameters())
    assert peak >= 3 * params   # weights, momentum, gradients
    assert peak < 5 * params


def test_interleaved_timing_takes_the_requested_calls():
    calls = {"a": 0, "b": 0}

    def make(name):
        def run():
            calls[name] += 1
            return 1e-3
        return run

    samples = measure.time_interleaved({k: make(k) for k in calls}, rounds=2, budget_s=1.0,
                                       min_calls=1, max_calls=3,
                                       wrap=lambda _: contextlib.nullcontext())
    assert {k: len(v) for k, v in samples.items()} == {"a": 6, "b": 6}
    assert calls == {"a": 1 + 2 * (1 + 3), "b": 1 + 2 * (1 + 3)}   # calibration; warm-up + 3


def test_bench_writes_every_file_with_consistent_rows(tmp_path, capsys):
    models = [cases.DENSE, cases.NAIVE, cases.HASHEDNETS, cases.mfh_spec(2, 3),
              cases.mfh_spec(2, 3, dual=True)]
    settings = Settings(layers=("fc2",), batches=(1, 4), models=models,
                        variants=[cases.variant(cases.HASHEDNETS, "reference")],
                        variant_case=("fc2", 4), rounds=1, min_calls=1, max_calls=1)
    run(settings, tmp_path)
    summary = report.read_csv(tmp_path / "summary.csv")
    assert tuple(summary[0]) == report.SUMMARY_COLUMNS
    labels = [m.label for m in models]
    for batch in (1, 4):
        for name in measure.MEASURES:
            rows = [r for r in summary if r["measure"] == name and int(r["batch"]) == batch]
            expected = labels + (["HashedNets [reference]"] if batch == 4 else [])
            assert [r["model"] for r in rows] == expected
            assert float(rows[0]["ratio_to_dense"]) == 1.0
    assert {r["model"] for r in summary if r["measure"] == "reconstruction"} == set(labels[1:]) | {
        "HashedNets [reference]"}
    floors = [r for r in summary if r["measure"] == "access_floor"]
    assert [r["model"] for r in floors] == ["HashedNets", "U2-G3", "U2-G3-D"]
    g_floors = [r for r in summary if r["measure"] == "g_floor"]
    assert [r["model"] for r in g_floors] == ["U2-G3", "U2-G3-D"]   # HashedNets: no g
    floors += g_floors
    dense_step = next(r for r in summary if r["model"] == "dense" and r["measure"] == "step"
                      and r["batch"] == "4")
    for row in floors:
        assert float(row["seconds"]) > 0
        assert float(row["ratio_to_dense"]) == pytest.approx(
            float(row["seconds"]) / float(dense_step["seconds"]), rel=1e-4)
    assert tuple(report.read_csv(tmp_path / "flops.csv")[0]) == report.FLOPS_COLUMNS
    memory = report.read_csv(tmp_path / "memory.csv")
    assert tuple(memory[0]) == report.MEMORY_COLUMNS
    assert {r["quantity"] for r in memory} == {"peak_train", "stored_indices"}
    assert (tmp_path / "cost.png").stat().st_size > 0
    assert "| U2-G3-D |" in (tmp_path / "summary.md").read_text()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert len(meta["provenance"]["commit"]) == 40 and meta["provenance"]["packages"]["torch"]
    rendered = (tmp_path / "summary.md").read_text()
    (tmp_path / "summary.md").unlink()
    (tmp_path / "cost.png").unlink()
    render(tmp_path)   # again from the CSVs alone
    assert (tmp_path / "summary.md").read_text() == rendered
    assert (tmp_path / "cost.png").stat().st_size > 0
    assert "fc2 b=4 step" in capsys.readouterr().out


def test_bench_quick_script_writes_summary(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/bench.py", "--quick", "--calls", "1",
                           "--threads", "1", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == report.SUMMARY_COLUMNS
    assert {(r["model"], r["measure"]) for r in rows} == {
        (m, s) for m in ("dense", "naive", "HashedNets", "U4-G3", "U4-G3-D")
        for s in measure.MEASURES} | {
        (m, "access_floor") for m in ("HashedNets", "U4-G3", "U4-G3-D")} | {
        (m, "g_floor") for m in ("U4-G3", "U4-G3-D")}
    assert all(r["layer"] == "mlp3" and r["batch"] == ("0" if r["measure"].endswith("floor")
                                                        else "50") for r in rows)
    assert "inference_cached" in proc.stdout
    assert "| U4-G3 |" in proc.stdout.split("targets (issue 14):")[1]
    assert "## Targets (issue 14)" in (tmp_path / "summary.md").read_text()


def test_headline_step_floor_is_dense_forward_backward_plus_access_floor():
    def row(model, measure, batch, seconds):
        return dict(layer="mlp3", model=model, measure=measure, batch=str(batch),
                    seconds=str(seconds), ratio_to_dense="")

    summary = [row("dense", "forward", 50, 1.0), row("dense", "backward", 50, 0.5),
               row("dense", "step", 50, 2.0), row("U4-G3", "step", 50, 5.0),
               row("U4-G3", "access_floor", 0, 1.5)]
    table = report.headline_table(summary, [], [], {"mlp3": "net"}).splitlines()
    assert table[0].split(" | ")[-1] == "step floor b=50 |"
    cells = {line.split(" | ")[1]: line.split(" | ")[-1] for line in table[2:]}
    assert cells["U4-G3"] == "1.50 |"         # (1.0 + 0.5 + 1.5) / 2.0
    assert cells["dense"] == cells["HashedNets"] == " |"   # no access_floor row


def test_targets_table_divides_step_by_its_floor_and_checks_each_target():
    def row(model, measure, batch, seconds, ratio):
        return dict(layer="mlp3", model=model, measure=measure, batch=str(batch),
                    seconds=str(seconds), ratio_to_dense=str(ratio))

    summary = [row("dense", "forward", 50, 1.0, 1.0), row("dense", "backward", 50, 0.5, 1.0),
               row("dense", "step", 50, 2.0, 1.0), row("dense", "inference_cached", 50, 1, 1.0),
               row("HashedNets", "step", 50, 2.4, 1.2),
               row("HashedNets", "access_floor", 0, 0.5, 0.25),
               row("HashedNets", "inference_cached", 50, 1.2, 1.2),
               row("U4-G3", "step", 50, 4.4, 2.2), row("U4-G3", "access_floor", 0, 1.5, 0.75),
               row("U4-G3", "g_floor", 0, 0.5, 0.25),
               row("U4-G3", "inference_cached", 50, 1.1, 1.1)]
    table = report.targets_table(summary).splitlines()
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in table[2:]}
    # HashedNets: floor (1 + 0.5 + 0.5) / 2 = 1.0, step / floor 1.2 <= 1.20, no g; cached 1.2
    assert cells["HashedNets"] == ["1.20", "1.00", "1.20", "<= 1.20", "met", "1.00", "1.20",
                                   "1.20", "not met |"]
    # U4-G3: floor (1 + 0.5 + 1.5) / 2 = 1.5, 2.2 / 1.5 = 1.47 <= 1.50; with g
    # (1 + 0.5 + 1.5 + 0.5) / 2 = 1.75, 2.2 / 1.75 = 1.257; cached 1.1 <= 1.1
    assert cells["U4-G3"] == ["2.20", "1.50", "1.47", "<= 1.50", "met", "1.75", "1.26", "1.10",
                              "met |"]
    assert cells["dense"] == ["1.00", "", "", "", "", "", "", "1.00", "met |"]
    # a run made before g_floor was measured: no floor with g, rather than one without g
    older = report.targets_table([r for r in summary if r["measure"] != "g_floor"]).splitlines()
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in older[2:]}
    assert cells["U4-G3"][4:7] == ["met", "", ""]


def test_access_floor_runner_needs_stored_codes_and_the_native_kernels():
    hashed = cases.build(cases.CASES["fc2"], cases.mfh_spec(2, 3))
    assert measure.access_floor_runner(cases.build(cases.CASES["fc2"], cases.DENSE)) is None
    with native.use_backend("reference"):
        assert measure.access_floor_runner(hashed) is None
    if native.backend() == "native":
        assert measure.access_floor_runner(hashed)() > 0


def test_g_floor_runner_times_g_of_fixed_shape_only():
    def runner(spec):
        return measure.g_floor_runner(cases.build(cases.CASES["fc2"], spec))

    assert runner(cases.DENSE) is None
    assert runner(cases.HASHEDNETS) is None           # no g
    assert runner(cases.mfh_spec(1, 1)) is None       # U1 with the identity g
    with native.use_backend("reference"):
        assert runner(cases.mfh_spec(2, 3)) is None
    if native.backend() == "native":
        assert runner(cases.mfh_spec(2, 3))() > 0
        assert runner(cases.mfh_spec(4, 3, dual=True))() > 0
        assert native.g_floor((3, 5, 1), 0, 100) is None   # no fixed-shape kernel


def test_targets_spread_over_runs_gives_min_median_max_and_how_often_each_target_held():
    def run(hashednets_step, cached):
        def row(model, measure, batch, seconds, ratio):
            return dict(layer="mlp3", model=model, measure=measure, batch=str(batch),
                        seconds=str(seconds), ratio_to_dense=str(ratio))
        return [row("dense", "forward", 50, 1.0, 1.0), row("dense", "backward", 50, 0.5, 1.0),
                row("dense", "step", 50, 2.0, 1.0), row("dense", "inference_cached", 50, 1, 1.0),
                row("HashedNets", "step", 50, 2 * hashednets_step, hashednets_step),
                row("HashedNets", "access_floor", 0, 0.5, 0.25),
                row("HashedNets", "inference_cached", 50, cached, cached)]

    # floor (1 + 0.5 + 0.5) / 2 = 1.0, so step / floor is the step ratio
    table = report.targets_spread([run(1.1, 1.2), run(1.3, 1.05), run(1.25, 1.0)]).splitlines()
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in table[2:]}
    assert cells["HashedNets"] == ["1.10 / 1.25 / 1.30", "1 of 3", "1.00 / 1.05 / 1.20",
                                   "2 of 3 |"]
    assert cells["dense"] == ["", "", "1.00 / 1.00 / 1.00", "3 of 3 |"]


def test_bench_quick_repeat_writes_each_run_and_the_spread(tmp_path):
    proc = subprocess.run([sys.executable, "scripts/bench.py", "--quick", "--calls", "1",
                           "--threads", "1", "--repeat", "2", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run-1" / "summary.csv").exists()
    assert (tmp_path / "run-2" / "summary.csv").exists()
    spread = (tmp_path / "spread.md").read_text()
    assert "| U4-G3 |" in spread and " of 2 |" in spread
    assert "spread over 2 runs" in proc.stdout
