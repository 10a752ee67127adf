"""End to end through run.py: sweeps, records, resume, failures, bad input and determinism."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, run_py

from mfh.harness.config import compose_config
from mfh.harness.runner import run


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("runs/*/seed=*.json"))]


def test_sweep_writes_records_resumes_and_feeds_tables(tmp_path, quick):
    args = ["-m", "model=hashednets", "seed=0,1", f"results_dir={tmp_path}", *quick]
    first = run_py(*args)
    found = records(tmp_path)
    assert [r["seed"] for r in found] == [0, 1]
    for r in found:
        assert r["schema"] == 1 and r["status"] == "ok" and r["label"] == "HashedNets"
        assert 0 <= r["metrics"]["test_error"] <= 100
        assert len(r["metrics"]["curves"]["valid_error"]) == 1
        assert r["compression"]["stored_params"] == 99376
        assert r["compression"]["virtual_params"] == 795010
        assert r["cost"]["seconds_per_epoch"] > 0
        assert set(r["provenance"]) >= {"commit", "dirty", "packages", "host"}
        assert r["config"]["model"]["name"] == "hashednets"
    assert "epoch   1/1" in first.stdout and "record:" in first.stdout
    mtimes = [p.stat().st_mtime_ns for p in tmp_path.glob("runs/*/seed=*.json")]
    again = run_py(*args)
    assert again.stdout.count("skip HashedNets") == 2
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("runs/*/seed=*.json")] == mtimes
    tables = subprocess.run(["make", "-s", "tables", f"RESULTS_DIR={tmp_path}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert tables.returncode == 0, tables.stderr
    assert "HashedNets" in tables.stdout and "(2)" in tables.stdout
    for suffix in ("md", "csv", "tex"):
        assert (tmp_path / "tables" / f"table.{suffix}").exists()


def test_nan_loss_is_recorded_as_failed_and_sweep_goes_on(tmp_path, quick):
    proc = run_py("-m", "model=hashednets", "optim.lr=1e8,0.1", f"results_dir={tmp_path}",
                  *quick)
    by_lr = {r["config"]["optim"]["lr"]: r for r in records(tmp_path)}
    assert by_lr[1e8]["status"] == "failed"
    assert by_lr[1e8]["failure"]["epoch"] == 1
    assert "nan" in by_lr[1e8]["failure"]["reason"]
    assert by_lr[0.1]["status"] == "ok"
    assert "FAILED HashedNets" in proc.stderr
    single = run_py("model=hashednets", "optim.lr=1e8", f"results_dir={tmp_path}", *quick,
                    check=False)
    assert single.returncode == 1


def test_same_seed_same_numbers(tmp_path):
    overrides = ["model=mfh", "epochs=2", "train_limit=200", "logger=none"]
    results = []
    for k in range(2):
        cfg = compose_config(overrides + [f"results_dir={tmp_path / str(k)}"])
        path, status = run(cfg)
        assert status == "ok"
        results.append(json.loads(path.read_text())["metrics"])
    assert results[0] == results[1]
    cfg = compose_config(overrides + ["seed=1", f"results_dir={tmp_path / '0'}"])
    path, _ = run(cfg)
    assert json.loads(path.read_text())["metrics"]["curves"] != results[0]["curves"]


def read_wandb_run(run_dir: Path) -> tuple[dict, list[dict]]:
    """(summary view, history rows) of an offline W&B run, read back without a network."""
    wandb = str(Path(sys.executable).with_name("wandb"))
    summary = json.loads(subprocess.run([wandb, "leet", "inspect", "--summary", "--json",
                                         str(run_dir)], capture_output=True, text=True,
                                        check=True, timeout=120).stdout)
    records = subprocess.run([wandb, "leet", "inspect", "--json", str(run_dir)],
                             capture_output=True, text=True, check=True, timeout=120).stdout
    history = [json.loads(line)["history"]["item"] for line in records.splitlines()
               if '"type":"history"' in line]
    return summary, history


def test_wandb_runs_read_back_offline_match_their_records(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    base = ["model=dense", "epochs=4", "train_limit=200", "logger=wandb", "checkpoint=false",
            f"results_dir={tmp_path}"]
    ok_path, _ = run(compose_config([*base, "optim.lr=1.0"]))   # best epoch 2 of 4
    failed_path, status = run(compose_config([*base, "optim.lr=1e8"]))
    assert status == "failed"
    runs = sorted((tmp_path / "wandb").glob("wandb/offline-run-*"))
    assert len(runs) == 2
    for run_dir, path in zip(runs, (ok_path, failed_path), strict=True):
        record = json.loads(path.read_text())
        view, history = read_wandb_run(run_dir)
        assert view["name"] == "dense mnist5k seed=0"
        assert set(view["tags"]) >= {"dense", "mnist5k", "mlp3"}
        assert view["config"]["signature"] == record["signature"]
        assert view["config"]["record"] == str(path)
        summary = view["summary"]
        assert summary["status"] == record["status"]
        if record["status"] == "ok":
            m = record["metrics"]
            assert m["best_epoch"] < m["epochs_run"]   # the last row is not the selection
            for key in ("test_error", "valid_error", "best_epoch", "train_loss"):
                assert summary[key] == m[key], key
            assert summary["health"] == m["health"]["status"] == "ok"
            assert [row["epoch"] for row in history] == [1, 2, 3, 4]
            assert view["exit_code"] == 0
        else:
            assert view["exit_code"] == 1
            assert summary["failure_reason"] == record["failure"]["reason"]


def test_run_py_help_mentions_overrides():
    proc = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "model" in proc.stdout


def test_two_seed_mfh_sweep_end_to_end(tmp_path, quick):
    proc = run_py("-m", "model=mfh", "hashes=4", "seed=0,1", f"results_dir={tmp_path}", *quick)
    assert "sweep: 2 jobs, 2 to run, predicted about" in proc.stdout
    assert "job 1/2, about" in proc.stdout and "left in the sweep: U4-G3 seed=0" in proc.stdout
    assert "job 2/2, about" in proc.stdout
    found = records(tmp_path)
    assert [(r["label"], r["seed"], r["status"]) for r in found] == [("U4-G3", 0, "ok"),
                                                                     ("U4-G3", 1, "ok")]
    assert found[0]["signature"] == found[1]["signature"]
    assert abs(found[0]["compression"]["ratio"] - 0.125) < 0.00125
    assert found[0]["checkpoint"]["bytes"] < found[0]["checkpoint"]["dense_bytes"] / 6


def test_a_corrupt_record_is_set_aside_and_its_job_runs_again(tmp_path, capsys):
    cfg = compose_config(["model=dense", "epochs=1", "train_limit=100", "logger=none",
                          "checkpoint=false", f"results_dir={tmp_path}"])
    path, _ = run(cfg)
    good = json.loads(path.read_text())
    path.write_text(path.read_text()[:50])   # truncated outside our atomic write
    again, status = run(cfg)
    assert again == path and status == "ok"
    assert f"{path}: unreadable record" in capsys.readouterr().err
    assert (path.parent / "seed=0.json.corrupt").read_text() == json.dumps(good, indent=1,
                                                                             sort_keys=True)[:50]
    assert json.loads(path.read_text())["metrics"] == good["metrics"]


def test_lazy_test_evaluation_reports_the_same_test_error(tmp_path):
    base = ["model=hashednets", "epochs=4", "train_limit=300", "logger=none", "checkpoint=false"]
    found = {}
    for mode in ("every", "best"):
        path, _ = run(compose_config([*base, f"test_eval={mode}",
                                      f"results_dir={tmp_path / mode}"]))
        found[mode] = json.loads(path.read_text())
    every, best = found["every"]["metrics"], found["best"]["metrics"]
    for key in ("test_error", "best_epoch", "valid_error", "train_loss"):
        assert every[key] == best[key]
    assert every["curves"]["valid_error"] == best["curves"]["valid_error"]
    lazy = best["curves"]["test_error"]
    assert lazy[best["best_epoch"] - 1] == every["curves"]["test_error"][best["best_epoch"] - 1]
    assert None not in every["curves"]["test_error"]
    assert found["every"]["signature"] == found["best"]["signature"]


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path):
    base = ["model=hashednets", "train_limit=200", "logger=none", "checkpoint=false",
            "optim.lr=1e-6", f"results_dir={tmp_path}"]   # too small to improve after epoch 1
    path, _ = run(compose_config([*base, "epochs=10", "patience=2"]))
    metrics = json.loads(path.read_text())["metrics"]
    best = metrics["best_epoch"]
    assert metrics["stop_reason"] == "patience"
    assert metrics["epochs_run"] == best + 2 < 10
    full, _ = run(compose_config([*base, "epochs=10"]))
    assert json.loads(full.read_text())["metrics"]["stop_reason"] == "max_epochs"
    assert full.parent != path.parent   # patience changes the result: its own signature


def test_the_checkpoint_can_go_to_wandb_as_a_model_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    path, _ = run(compose_config(["model=hashednets", "epochs=1", "train_limit=200",
                                  "logger=wandb", "logger.log_checkpoint=true",
                                  f"results_dir={tmp_path}"]))
    record = json.loads(path.read_text())
    run_dir = next((tmp_path / "wandb").glob("wandb/offline-run-*"))
    wandb = str(Path(sys.executable).with_name("wandb"))
    lines = subprocess.run([wandb, "leet", "inspect", "--json", str(run_dir)],
                           capture_output=True, text=True, check=True, timeout=120).stdout
    artifacts = [json.loads(line)["artifact"] for line in lines.splitlines()
                 if '"type":"artifact"' in line]
    assert len(artifacts) == 1
    artifact = artifacts[0]
    assert artifact["name"] == f"{record['signature']}-seed0" and artifact["type"] == "model"
    [content] = artifact["manifest"]["contents"]
    assert content["path"] == "seed=0.pt" and int(content["size"]) == record["checkpoint"]["bytes"]
    assert json.loads(artifact["metadata"])["test_error"] == record["metrics"]["test_error"]
