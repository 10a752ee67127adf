"""Tuned recipes: the recipe config group, the choice of the best trial, layouts with one
recipe per column, and `make table1` tuning the recipes it misses before its sweep."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from test_tables import load_script, search_folder

from mfh.harness import recipes, sweep
from mfh.harness.config import compose_config, to_dict
from mfh.harness.recipes import recipe_path, write_recipe
from mfh.harness.records import read_record, record_path, signature, write_record
from mfh.harness.tuning import Trial, Tuning
from mfh.report.tables import (
    LabelCollision,
    LayoutError,
    MissingRecipe,
    layout_families,
    layout_table,
    load_layout,
    ready_columns,
    resolve_rows,
    to_markdown,
)

COMMON = ("arch=mlp3", "epochs=1", "train_limit=200")


@pytest.fixture
def prefix():
    """A unique recipe-name prefix; its files in conf/recipe/ are removed afterwards."""
    name = f"pytest{uuid.uuid4().hex[:8]}"
    yield name
    for path in recipes.RECIPE_DIR.glob(f"{name}_*.yaml"):
        path.unlink()


def test_a_recipe_sets_its_values_and_the_command_line_still_wins(prefix):
    recipe_path(f"{prefix}_x").write_text("# @package _global_\noptim:\n  lr: 0.0123\n"
                                          "  momentum: 0.5\n")
    cfg = compose_config(["model=mfh", f"+recipe={prefix}_x"])
    assert (cfg.optim.lr, cfg.optim.momentum, cfg.optim.g_lr) == (0.0123, 0.5, 1.0e-3)
    assert compose_config(["model=mfh", f"+recipe={prefix}_x", "optim.lr=0.5"]).optim.lr == 0.5


def test_the_recipe_is_the_best_trial_and_says_how_it_was_chosen(prefix):
    tuning = Tuning(seeds=(100, 101), n_trials=4)
    trials = [Trial(0, {"optim.lr": 0.1, "optim.momentum": 0.5}, {100: 9.0, 101: 8.0}),
              Trial(1, {"optim.lr": 0.02, "optim.momentum": 0.5}, {100: 4.0, 101: 5.0}),
              Trial(2, {"optim.lr": 0.05, "optim.momentum": 0.7}, {100: 5.0, 101: 4.0}),
              Trial(3, {"optim.lr": 0.3, "optim.momentum": 0.1}, {100: 30.0}, "pruned", 2)]
    path = write_recipe(f"{prefix}_mnist5k_hashednets", "hashednets", "mnist5k", trials,
                        tuning, COMMON)
    text = path.read_text()
    assert text.startswith("# @package _global_\n")
    assert "4 trials" in text and "1 pruned" in text and "seeds [100, 101]" in text
    assert "trial 2: optim.lr=0.02, optim.momentum=0.5: mean validation error 4.50% " \
        "(seed 100: 4.00, seed 101: 5.00)" in text
    assert yaml.safe_load(text) == {"optim": {"lr": 0.02, "momentum": 0.5}}
    cfg = compose_config(["model=hashednets", f"+recipe={prefix}_mnist5k_hashednets"])
    assert (cfg.optim.lr, cfg.optim.momentum) == (0.02, 0.5)


def recipe_layout(path: Path, prefix: str, per_column: str = "[optim]") -> Path:
    path.write_text(
        "caption: c\nseeds: [0, 1]\ndatasets: [mnist5k, fashion_basic]\n"
        f"common: [{', '.join(COMMON)}]\nrecipe: '{prefix}_{{dataset}}_{{model}}'\n"
        f"per_column: {per_column}\ntuning: {{seed: 100, n_trials: 2, n_startup_trials: 1}}\n"
        "rows:\n  - {id: a, reference: HashedNets, overrides: [model=mfh, hashes=2]}\n"
        "  - {id: b, overrides: [model=hashednets]}\n")
    return path


def write_recipes(prefix: str, datasets=("mnist5k", "fashion_basic")) -> None:
    for k, dataset in enumerate(datasets):
        for family in ("mfh", "hashednets"):
            recipe_path(f"{prefix}_{dataset}_{family}").write_text(
                f"# @package _global_\noptim:\n  lr: 0.0{k + 1}\n")


def test_a_layout_gives_each_column_its_recipe(tmp_path, prefix):
    layout = load_layout(recipe_layout(tmp_path / "l.yaml", prefix))
    with pytest.raises(MissingRecipe, match=r"scripts/tune.py .*--dataset mnist5k"):
        resolve_rows(layout)
    write_recipes(prefix, ["mnist5k"])
    assert ready_columns(layout)[1] == ["fashion_basic"]
    write_recipes(prefix)
    rows = resolve_rows(layout)
    assert [r.configs["mnist5k"]["optim"]["lr"] for r in rows] == [0.01, 0.01]
    assert [r.configs["fashion_basic"]["optim"]["lr"] for r in rows] == [0.02, 0.02]
    assert rows[0].overrides["fashion_basic"][-1] == f"+recipe={prefix}_fashion_basic_mfh"
    strict = load_layout(recipe_layout(tmp_path / "s.yaml", prefix, per_column="[]"))
    with pytest.raises(LabelCollision, match=r"columns .*optim\.lr: 0\.01 vs 0\.02"):
        resolve_rows(strict)


def test_a_recipe_layout_sweeps_one_row_config_per_configuration_and_column(tmp_path, prefix):
    write_recipes(prefix)
    layout = load_layout(recipe_layout(tmp_path / "l.yaml", prefix))
    progress, argv = sweep.sweep_command(layout, tmp_path, [], ("fashion_basic",))
    assert progress == "l: 2 configurations x 1 datasets x 2 seeds = 4 jobs"
    assert "+row=r1,r2" in argv and not any(a.startswith("dataset=") for a in argv)
    folder = search_folder(argv)
    expected = [r.configs["fashion_basic"] for r in resolve_rows(layout)]
    for k, config in enumerate(expected, 1):
        row = compose_config([f"hydra.searchpath=[file://{folder}]", f"+row=r{k}", *COMMON])
        assert signature(to_dict(row)) == signature(config)
    with pytest.raises(ValueError, match="no column cifar10"):
        sweep.sweep_command(layout, tmp_path, [], ("cifar10",))


def test_table1_tunes_the_recipes_it_misses_then_runs_the_table(tmp_path, prefix, capsys):
    layout_file = recipe_layout(tmp_path / "l.yaml", prefix)
    table1 = load_script("table1")
    args = ["--layout", str(layout_file), "--results-dir", str(tmp_path / "r"),
            "--dataset", "mnist5k", "logger=none", "checkpoint=false"]
    assert table1.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("tuning model=") == 2 and "columns without recipes left out: fashion_basic" \
        in out
    written = {f: recipe_path(f"{prefix}_mnist5k_{f}").read_text() for f in ("mfh", "hashednets")}
    assert all("Study: 2 trials" in text and "seeds [100]" in text for text in written.values())
    table = layout_table(ready_columns(load_layout(layout_file))[0], tmp_path / "r")
    assert table.datasets == ["mnist5k"]
    assert {table.cells[(r.label, "mnist5k")].n for r in table.rows} == {2}
    tune = load_script("tune")   # tuning again resumes its trials: the same recipe
    assert tune.main(["--layout", str(layout_file), "--dataset", "mnist5k", "--family", "mfh",
                      "--results-dir", str(tmp_path / "r"), "logger=none",
                      "checkpoint=false"]) == 0
    assert recipe_path(f"{prefix}_mnist5k_mfh").read_text() == written["mfh"]


def test_a_dry_run_of_a_tuned_column_prints_its_sweep_while_another_column_is_untuned(
        tmp_path, prefix, capsys):
    layout_file = recipe_layout(tmp_path / "l.yaml", prefix)
    write_recipes(prefix, ["mnist5k"])
    args = ["--layout", str(layout_file), "--results-dir", str(tmp_path / "r"), "--dry-run"]
    assert load_script("table1").main([*args, "--dataset", "mnist5k"]) == 0
    out = capsys.readouterr().out
    assert "l: 2 configurations x 1 datasets x 2 seeds = 4 jobs" in out and "run.py -m" in out
    assert load_script("table1").main([*args, "--dataset", "fashion_basic"]) == 0
    out = capsys.readouterr().out
    assert "tuning model=" in out and "follows once these recipes are written" in out
    assert not list((tmp_path / "r").rglob("seed=*.json"))   # ran nothing


def test_table1_tunes_a_recipe_per_column_on_seeds_it_does_not_report():
    layout = load_layout(ROOT / "experiments" / "table1.yaml")
    assert layout.datasets == ("mnist5k", "fashion_basic", "fashion_bg_img", "fashion_mnist")
    assert layout.recipe == "robust_{dataset}_{model}" and layout.per_column == ("optim",)
    assert layout.seeds == tuple(range(10)) and layout.margin == 0.5
    assert not set(layout.tuning.seeds) & set(layout.seeds) and len(layout.tuning.seeds) >= 3
    assert layout.tuning.n_trials >= 16
    assert "data_seed=seed" in layout.common
    assert all(c.decided for c in layout.claims)
    rows = resolve_rows(replace(layout, recipe=""))   # labels and columns need no recipe
    labels = [r.label for r in rows]
    assert len(labels) == len(set(labels)) == 11   # every configuration once
    assert labels[0] == "U4-G3" and labels[-2:] == ["dense", "HashedNets"]
    full = {r.label for r in rows if "fashion_mnist" in r.configs}
    assert full == {"dense", "HashedNets", "U1-G3", "U4-G3", "U4-G3-D"}
    assert all(c["model"]["g_init"] == "orthogonal" for r in rows for c in r.configs.values()
               if c["model"]["name"] == "mfh")


def test_a_row_runs_on_the_columns_it_names(tmp_path, prefix):
    """A row with `datasets:` is composed, swept, tuned and shown on those columns only."""
    path = recipe_layout(tmp_path / "l.yaml", prefix)
    path.write_text(path.read_text().replace(
        "overrides: [model=mfh, hashes=2]}", "overrides: [model=mfh, hashes=2], "
        "datasets: [fashion_basic]}"))
    layout = load_layout(path)
    write_recipes(prefix, ["mnist5k"])
    assert ready_columns(layout)[1] == ["fashion_basic"]   # mnist5k runs no MFH row
    assert layout_families(layout, "mnist5k") == ["hashednets"]
    write_recipes(prefix)
    rows = resolve_rows(layout)
    assert [(r.label, list(r.configs)) for r in rows] == [
        ("U2-G3", ["fashion_basic"]), ("HashedNets", ["mnist5k", "fashion_basic"])]
    progress, argv = sweep.sweep_command(layout, tmp_path, [])
    assert progress == "l: 3 (configuration, dataset) pairs of 2 configurations on 2 datasets " \
                       "x 2 seeds = 6 jobs"
    assert "+row=r1,r2,r3" in argv
    progress, _ = sweep.sweep_command(layout, tmp_path, [], ("mnist5k",))
    assert progress == "l: 1 configurations x 1 datasets x 2 seeds = 2 jobs"
    for seed in (0, 1):
        for r in rows:
            for config in r.configs.values():
                write_record(record_path(tmp_path, config, seed), {
                    "config": config, "signature": signature(config), "seed": seed,
                    "status": "ok", "label": r.label, "dataset": config["dataset"]["name"],
                    "metrics": {"test_error": 5.0 + seed}, "curves": {}})
    table = layout_table(layout, tmp_path)
    assert ("U2-G3", "mnist5k") not in table.cells
    line = next(x for x in to_markdown(table).splitlines() if x.startswith("| a |"))
    assert line.startswith("| a | U2-G3 | – | **5.50 ± 0.50 (2)** | – | ")
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("datasets: [fashion_basic]}", "datasets: [rot]}"))
    with pytest.raises(LayoutError, match="row a names datasets that are not columns: rot"):
        load_layout(bad)


def test_a_dark_knowledge_recipe_is_tuned_against_the_dense_recipes_teacher(tmp_path, prefix,
                                                                           capsys):
    layout_file = tmp_path / "dk.yaml"
    layout_file.write_text(
        "caption: c\nseeds: [0]\ndatasets: [mnist5k]\n"
        f"common: [{', '.join(COMMON)}]\nrecipe: '{prefix}_{{dataset}}_{{model}}'\n"
        "tuning: {seeds: [100], n_trials: 2, n_startup_trials: 1}\n"
        "rows:\n  - {id: d, overrides: [model=dense]}\n"
        "  - {id: k, overrides: [model=equal_nn, +distill=dk]}\n")
    layout = load_layout(layout_file)
    assert layout_families(layout) == ["dense", "equal_nn_dk"]
    args = ["--layout", str(layout_file), "--results-dir", str(tmp_path / "r"), "logger=none"]
    # tuning without checkpoints: the DK trials' teachers still save theirs
    assert load_script("tune").main(["--dataset", "mnist5k", *args, "checkpoint=false"]) == 0
    trials = [read_record(p) for p in (tmp_path / "r" / "tuning_dk").glob("runs/*/seed=100.json")]
    assert sorted(r["label"] for r in trials) == ["NN+DK", "NN+DK", "dense"]
    assert [r["checkpoint"] is not None for r in trials if r["label"] == "dense"] == [True]
    assert load_script("table1").main([*args, "checkpoint=false"]) == 1   # teachers need theirs
    assert "checkpoint=false: the +DK rows read" in capsys.readouterr().err
    assert load_script("table1").main(args) == 0
    dense = recipes.recipe_values(f"{prefix}_mnist5k_dense")
    student = recipes.recipe_values(f"{prefix}_mnist5k_equal_nn_dk")
    assert {"optim.lr", "optim.momentum", "distill.temperature", "distill.weight"} <= set(student)
    assert student["distill.teacher_optim.lr"] == dense["optim.lr"]
    assert student["distill.teacher_optim.momentum"] == dense["optim.momentum"]
    rows = {r.label: r for r in resolve_rows(layout)}
    teacher = record_path(tmp_path / "r", rows["dense"].configs["mnist5k"], 0)
    dk = read_record(record_path(tmp_path / "r", rows["NN+DK"].configs["mnist5k"], 0))
    assert dk["status"] == "ok" and dk["teacher"]["record"] == str(teacher)
