"""Signatures change only when a result can: effective configs, and the migration of records."""

import json
import shutil
import subprocess
import sys

from conftest import ROOT

from mfh.harness.config import compose_config, to_dict
from mfh.harness.migrate import migrate_signatures
from mfh.harness.records import iter_records, read_record, write_record
from mfh.harness.signature import effective_config, signature
from mfh.report.claims import errors_by_seed, evaluate, write_claims
from mfh.report.tables import (
    layout_entries,
    layout_table,
    load_layout,
    resolve_rows,
    write_tables,
)


def sig(*overrides: str) -> str:
    return signature(to_dict(compose_config(list(overrides))))


def test_keys_a_model_does_not_read_do_not_change_its_signature():
    assert sig("model=dense", "compression=0.5") == sig("model=dense", "compression=0.125")
    assert sig("model=dense", "optim.g_lr=0.5") == sig("model=dense")
    assert sig("model=hashednets", "optim.g_optimizer=sgd") == sig("model=hashednets")
    assert sig("model=mfh", "model.dual_share=0.5") == sig("model=mfh")
    assert sig("model=mfh", "model.space=per_layer", "model.layer_scale=none") == sig(
        "model=mfh", "model.space=per_layer")
    assert sig("model=mfh", "model.dual=true", "model.g_scope=layer") == sig(
        "model=mfh", "model.dual=true")
    assert sig("dataset=fashion_mnist", "dataset.path=/elsewhere") == sig("dataset=fashion_mnist")
    assert sig("logger=none", "device=cpu", "results_dir=/x") == sig()


def test_keys_a_model_reads_change_its_signature():
    assert sig("model=hashednets", "compression=0.5") != sig("model=hashednets")
    assert sig("model=mfh", "model.dual=true", "model.dual_share=0.5") != sig(
        "model=mfh", "model.dual=true")
    assert sig("model=mfh", "optim.g_lr=0.01") != sig("model=mfh")
    assert sig("model=mfh", "model.layer_scale=none") != sig("model=mfh")
    assert sig("model=dense", "optim.lr=0.05") != sig("model=dense")


def test_effective_config_keeps_the_record_config_intact():
    config = to_dict(compose_config(["model=dense"]))
    before = json.dumps(config, sort_keys=True)
    effective = effective_config(config)
    assert "compression" not in effective and effective["model"] == {"name": "dense"}
    assert json.dumps(config, sort_keys=True) == before


def test_migration_moves_records_and_checkpoints_to_new_signatures(tmp_path):
    config = to_dict(compose_config(["model=dense", "compression=0.5"]))
    old = tmp_path / "runs" / "0123456789ab" / "seed=3.json"
    checkpoint = tmp_path / "checkpoints" / "0123456789ab" / "seed=3.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    write_record(old, {"status": "ok", "signature": "0123456789ab", "seed": 3, "config": config,
                       "checkpoint": {"path": str(checkpoint), "bytes": 7}})
    moves = migrate_signatures(tmp_path)
    new_sig = signature(config)
    assert [(m.old, m.new.parent.name, m.conflict) for m in moves] == [(old, new_sig, False)]
    record = read_record(tmp_path / "runs" / new_sig / "seed=3.json")
    assert record["signature"] == new_sig and record["config"] == config
    moved = tmp_path / "checkpoints" / new_sig / "seed=3.pt"
    assert record["checkpoint"]["path"] == str(moved) and moved.read_bytes() == b"weights"
    assert not old.parent.exists() and not checkpoint.parent.exists()
    assert migrate_signatures(tmp_path) == []


ARCHIVE = ROOT / "results" / "archive" / "fixed_recipe"   # Table 1 at one fixed recipe, 20 epochs


def test_committed_records_carry_their_current_signatures():
    paths = sorted((ROOT / "results").glob("**/runs/*/seed=*.json"))
    assert len(paths) >= 55
    for path in paths:
        record = read_record(path)
        assert path.parent.name == record["signature"] == signature(record["config"]), path


def test_migrated_results_render_the_committed_tables(tmp_path):
    shutil.copytree(ARCHIVE / "runs", tmp_path / "runs")
    assert len(list(iter_records(tmp_path))) == 55
    out = tmp_path / "tables"
    proc = subprocess.run([sys.executable, "scripts/tables.py", "--layout",
                           "results/archive/fixed_recipe/table1_fixed_recipe.yaml", "--results-dir",
                           str(tmp_path), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    for suffix in ("md", "csv", "tex"):
        name = f"table1_fixed_recipe.{suffix}"
        assert (out / name).read_text() == (ARCHIVE / "tables" / name).read_text()


def test_the_archived_five_seed_table1_renders_from_the_committed_records(tmp_path):
    """Issue 27 moved the 5-seed Table 1 (one split, recipes tuned on one seed) to the archive;
    its records stay under results/runs and still give its tables and claims byte for byte."""
    folder = ROOT / "results" / "archive" / "table1_5seed"
    layout = load_layout(folder / "table1_5seed.yaml")
    table = layout_table(layout, ROOT / "results")
    paths = write_tables(table, tmp_path, layout.name)
    errors = errors_by_seed(layout_entries(layout, resolve_rows(layout), ROOT / "results"))
    paths += write_claims(evaluate(layout.claims, layout.datasets, errors), tmp_path,
                          layout.name, budget=table.caption)
    assert len(paths) == 5
    for path in paths:
        assert path.read_text() == (folder / "tables" / path.name).read_text(), path.name


def test_keys_added_later_are_neutral_at_their_old_behaviour():
    """A record made before `model.g_init` / `model.step_scale` existed keeps its signature:
    `sign` / `none` are left out; the new default init is a different configuration."""
    config = to_dict(compose_config(["model=mfh"]))
    old = {**config, "model": {k: v for k, v in config["model"].items()
                               if k not in ("g_init", "step_scale")}}
    sign = {**config, "model": {**config["model"], "g_init": "sign"}}
    assert signature(sign) == signature(old) != signature(config)
    layer = {**sign, "model": {**sign["model"], "step_scale": "layer"}}
    assert signature(layer) != signature(sign)
    dual = {**config, "model": {**config["model"], "dual": True}}
    assert signature(dual) == signature({**dual, "model": {**dual["model"], "g_init": "sign"}})
