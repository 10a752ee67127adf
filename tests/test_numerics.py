"""Portable numerics, the machine in provenance, and verifying committed records."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from mfh.harness.config import ConfigError, compose_config, validate
from mfh.harness.records import cpu_model, provenance
from mfh.harness.verify import compare, expected

ARGS = ["model=mfh", "numerics=portable", "epochs=2", "train_limit=300", "logger=none",
        "checkpoint=false"]


def run_portable(results, *overrides: str, **env) -> dict:
    subprocess.run([sys.executable, "run.py", *ARGS, *overrides, f"results_dir={results}"],
                   cwd=ROOT, env={**os.environ, "WANDB_MODE": "offline", **env}, check=True,
                   capture_output=True)
    return json.loads(next(results.glob("runs/*/seed=0.json")).read_text())


def test_portable_record_is_the_same_on_a_host_limited_to_avx2(tmp_path):
    here = run_portable(tmp_path / "here")
    limited = run_portable(tmp_path / "avx2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                           ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    assert here["metrics"] == limited["metrics"]
    p = here["provenance"]
    assert (p["numerics"], p["cpu_capability"], p["threads"]) == ("portable", "AVX2", 2)
    assert p["kernel_flags"].endswith("-march=native")


def test_portable_record_does_not_depend_on_the_thread_count(tmp_path):
    """Native numerics round MKL's GEMMs by thread count; portable mode's strict MKL does not,
    and our kernels never do, so one portable record comes from 1 thread or 2."""
    two = run_portable(tmp_path / "two")
    one = run_portable(tmp_path / "one", "threads=1")
    assert (two["provenance"]["threads"], one["provenance"]["threads"]) == (2, 1)
    assert one["metrics"] == two["metrics"]


def test_golden_portable_record_reruns_bit_for_bit():
    """tests/golden/portable_record.json was made in portable mode on an AMD EPYC; on any
    x86-64 machine with AVX2 and a CPU of the same vendor the rerun must give it again, every
    digit. On an Intel CPU MKL honours MKL_CBWR=AVX2 and AMD's run did not (MKL takes its AUTO
    branch on non-Intel CPUs), so there the error rates must agree and the loss to rounding."""
    path = ROOT / "tests" / "golden" / "portable_record.json"
    proc = subprocess.run([sys.executable, "scripts/verify.py", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    same_vendor, _ = expected(json.loads(path.read_text()))
    if same_vendor:
        assert "bit-identical; portable numerics" in proc.stdout
    else:
        assert "rounding" in proc.stdout or "bit-identical" in proc.stdout, proc.stdout
        assert "portable numerics made on an AMD CPU, here Intel" in proc.stdout


def test_portable_mode_must_be_chosen_before_torch_starts():
    with pytest.raises(ConfigError, match="must be set before torch starts"):
        validate(compose_config(["numerics=portable"]))
    with pytest.raises(ConfigError, match="numerics='fast' is not allowed"):
        validate(compose_config(["numerics=fast"]))


def test_provenance_names_the_machine():
    p = provenance()
    assert p["cpu_model"] and p["cpu_capability"] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR")
    assert p["blas"] and p["threads"] >= 1 and p["numerics"] == "native"
    assert "-march=native" in p["kernel_flags"]


def test_compare_tells_identical_rounding_and_different():
    def record(losses, valid, test=2.0):
        return {"status": "ok", "metrics": {"test_error": test, "curves": {
            "train_loss": losses, "valid_error": valid, "test_error": [test] * len(valid)}},
            "provenance": {"numerics": "portable"}}

    old = record([1.0, 0.5], [3.0, 2.0])
    assert compare(old, record([1.0, 0.5], [3.0, 2.0])).status == "bit-identical"
    near = compare(old, record([1.0, 0.5 * (1 + 1e-7)], [3.0, 2.0]))
    assert (near.status, near.epoch) == ("rounding", 2)
    far = compare(old, record([1.0, 0.5], [3.0, 2.5]))
    assert (far.status, far.epoch) == ("different", 2)
    here = {**old, "provenance": {"numerics": "portable", "cpu_model": cpu_model()}}
    assert expected(here) == (True, "portable numerics")
    amd = {**old, "provenance": {"numerics": "portable", "cpu_model": "AMD EPYC"}}
    intel = {**old, "provenance": {"numerics": "portable", "cpu_model": "Intel(R) Xeon(R)"}}
    vendor = "Intel" if "Intel" in cpu_model() else "AMD" if "AMD" in cpu_model() else None
    assert expected(amd)[0] is (vendor == "AMD") and expected(intel)[0] is (vendor == "Intel")
    assert expected({"provenance": {}})[0] is False
    assert expected(here, threads=1) == (True, "portable numerics")
    native = {**old, "provenance": {"numerics": "native", "cpu_model": cpu_model(), "threads": 2,
                                    "cpu_capability": torch.backends.cpu.get_cpu_capability()}}
    assert expected(native)[0] and expected(native, threads=2)[0]
    assert expected(native, threads=1) == (False, "native numerics with 2 threads, rerun with 1")


@pytest.mark.parametrize("script", [
    ["table1.py", "--dataset", "mnist5k"], ["tune.py", "--dataset", "mnist5k"],
    ["figure.py", "--experiment", "experiments/expansion.yaml"],
    ["figure.py", "--experiment", "results/archive/figures_fixed_recipe/expansion.yaml"]])
def test_sweep_scripts_take_portable_numerics_from_the_environment(script):
    proc = subprocess.run([sys.executable, f"scripts/{script[0]}", *script[1:], "--dry-run"],
                          cwd=ROOT, env={**os.environ, "MFH_NUMERICS": "portable"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    if script[0] == "tune.py":   # the trials run in-process, in its numerics mode
        assert "tune: portable numerics" in proc.stdout
    elif "tuning " in proc.stdout:   # the sweep waits for the recipes it tunes first
        assert "follows once these recipes are written" in proc.stdout
    else:
        assert "python run.py -m" in proc.stdout


def test_verify_against_compares_two_results_folders_without_rerunning(tmp_path):
    record = json.loads((ROOT / "tests" / "golden" / "portable_record.json").read_text())
    name = f"runs/{record['signature']}/seed={record['seed']}.json"
    for folder, loss in (("a", None), ("same", None), ("moved", 1.0)):
        copy = json.loads(json.dumps(record))
        if loss is not None:
            copy["metrics"]["curves"]["train_loss"][-1] = loss
        (tmp_path / folder / name).parent.mkdir(parents=True)
        (tmp_path / folder / name).write_text(json.dumps(copy))

    def verify(reference: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "scripts/verify.py", "--results-dir",
                               str(tmp_path / "a"), "--against", str(tmp_path / reference)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    same, moved, empty = verify("same"), verify("moved"), verify("empty")
    assert (same.returncode, moved.returncode, empty.returncode) == (0, 1, 1)
    assert same.stdout.startswith("1 bit-identical")
    assert "seed=0" in moved.stdout and "1 different" in moved.stdout
    assert "1 missing" in empty.stdout
