"""Figure experiments: the ratio sweep and the expansion study, from file to figure."""

from __future__ import annotations

import shutil
import uuid

import pytest
from conftest import ROOT
from test_tables import load_script

from mfh.harness.config import compose_config
from mfh.harness.grid_recipes import grid_studies
from mfh.harness.models import count_parameters, model_from_config
from mfh.harness.recipes import RECIPE_DIR, recipe_path, recipe_values
from mfh.harness.records import read_record
from mfh.report.grid import collect, load_grid, missing_recipes, points, summary, tuned_x
from mfh.report.tables import LayoutError

TINY = """kind: {kind}
caption: tiny
seeds: [0, 1]
datasets: [mnist5k]
archs: [mlp3]
base_hidden: 20
x: [{xs}]
models:
  HashedNets: [model=hashednets]
reference: [model=dense]
common: [epochs=1, train_limit=200]
"""


def test_the_expansion_study_keeps_the_stored_parameters_of_the_base_net():
    exp = load_grid(ROOT / "experiments" / "expansion.yaml")
    grid = points(exp)
    base = model_from_config(compose_config(list(grid[0].overrides)), (1, 28, 28), 10)
    assert count_parameters(base) == 785 * 50 + 51 * 10 == 39760
    widths = set()
    for point in grid[1:]:
        cfg = compose_config(list(point.overrides))
        widths.add(cfg.arch.hidden[0])
        assert count_parameters(model_from_config(cfg, (1, 28, 28), 10)) == 39760, point
    assert widths == {50, 100, 200, 400, 800, 1600, 3200}


def test_the_ratio_sweep_trains_dense_once_per_architecture_and_seed():
    exp = load_grid(ROOT / "experiments" / "ratio_sweep.yaml")
    grid = points(exp)
    assert [p.model for p in grid].count("dense") == len(exp.archs) == 2
    assert len(grid) == 2 * (1 + 3 * 7)
    mfh = [p for p in grid if p.model == "U4-G3" and p.arch == "mlp5_100"]
    assert [p.x for p in mfh] == [1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]


def test_a_figure_experiment_runs_resumes_and_draws(tmp_path, capfd):
    for kind, xs in (("ratio", "1, 0.25"), ("expansion", "1, 4")):
        path = tmp_path / f"tiny_{kind}.yaml"
        path.write_text(TINY.format(kind=kind, xs=xs))
        figure = load_script("figure")
        args = ["--experiment", str(path), "--results-dir", str(tmp_path / "r"), "logger=none",
                "checkpoint=false"]
        assert figure.main(args) == 0
        frame = collect(load_grid(path), tmp_path / "r" / "experiments" / f"tiny_{kind}")
        assert len(frame) == 6 and (frame["status"] == "ok").all()   # (1 + 2 points) x 2 seeds
        stats = summary(frame)
        assert list(stats["n"]) == [2, 2, 2]
        assert (tmp_path / "r" / "figures" / f"tiny_{kind}.png").stat().st_size > 10_000
        md = (tmp_path / "r" / "tables" / f"tiny_{kind}.md").read_text()
        assert "| mnist5k | mlp3 | HashedNets |" in md and "| mnist5k | mlp3 | dense |" in md
        capfd.readouterr()
        assert figure.main(args) == 0   # again: every record exists, nothing trains
        assert capfd.readouterr().out.count("skip ") == 6


TUNED = """kind: ratio
caption: tiny, tuned
seeds: [0, 1]
datasets: [mnist5k]
archs: [mlp3]
x: [0.5, 0.25]
models:
  HashedNets: [model=hashednets]
reference: [model=dense]
common: [epochs=1, train_limit=200]
recipe: "{folder}/{{dataset}}_{{arch}}_{{model}}"
tuning: {{seeds: [100], n_trials: 2, n_startup_trials: 1}}
tune_at: {tune_at}
"""


@pytest.fixture
def recipe_folder():
    """A unique folder of conf/recipe/, removed afterwards."""
    name = f"pytest{uuid.uuid4().hex[:8]}"
    yield name
    shutil.rmtree(RECIPE_DIR / name, ignore_errors=True)


def test_a_tuned_figure_experiment_tunes_each_point_retunes_from_the_first_and_runs(
        tmp_path, recipe_folder, capfd):
    path = tmp_path / "tuned.yaml"
    path.write_text(TUNED.format(folder=recipe_folder, tune_at="{0.5: [0.5], 0.25: [0.25]}"))
    exp = load_grid(path)
    names = [s.name for s in grid_studies(exp)]
    assert names == [f"{recipe_folder}/mnist5k_mlp3_dense",
                     f"{recipe_folder}/mnist5k_mlp3_HashedNets_at0p5",
                     f"{recipe_folder}/mnist5k_mlp3_HashedNets_at0p25"]
    assert grid_studies(exp)[2].start == names[1]
    figure = load_script("figure")
    args = ["--experiment", str(path), "--results-dir", str(tmp_path / "r"), "logger=none",
            "checkpoint=false"]
    assert figure.main([*args, "--dry-run"]) == 0
    out = capfd.readouterr().out
    assert out.count("tuning ") == 3 and "follows once these recipes are written" in out
    assert missing_recipes(exp) == names and not list((tmp_path / "r").rglob("seed=*.json"))
    assert figure.main(args) == 0
    assert missing_recipes(exp) == []
    first, retuned = recipe_values(names[1]), recipe_values(names[2])
    assert "Trial 1 is " + names[1] in recipe_path(names[2]).read_text()
    runs = tmp_path / "r" / "experiments" / "tuned"
    trial_1 = [read_record(p) for p in (runs / "tuning" / "runs").glob("*/seed=100.json")
               if read_record(p)["config"]["compression"] == 0.25]
    assert first["optim.lr"] in {r["config"]["optim"]["lr"] for r in trial_1}
    frame = collect(exp, runs)
    assert len(frame) == 6 and (frame["status"] == "ok").all()
    lrs = {}
    for p in (runs / "runs").glob("*/seed=0.json"):
        record = read_record(p)
        lrs[(record["config"]["model"]["name"], record["config"]["compression"])] = \
            record["config"]["optim"]["lr"]
    assert lrs[("hashednets", 0.5)] == first["optim.lr"]
    assert lrs[("hashednets", 0.25)] == retuned["optim.lr"]
    capfd.readouterr()
    assert figure.main(args) == 0   # again: recipes and records exist, nothing tunes or trains
    out = capfd.readouterr().out
    assert "tuning " not in out and out.count("skip ") == 6


def test_a_tuned_figure_experiment_gives_every_x_one_tuned_recipe(tmp_path, recipe_folder):
    path = tmp_path / "bad.yaml"
    path.write_text(TUNED.format(folder=recipe_folder, tune_at="{0.5: [0.5]}"))
    with pytest.raises(LayoutError, match="tune_at must give each x"):
        load_grid(path)
    path.write_text(TUNED.format(folder=recipe_folder, tune_at="{0.5: [0.25, 0.5]}"))
    assert tuned_x(load_grid(path), 0.25) == 0.5


def test_the_archived_one_recipe_expansion_study_renders_byte_for_byte(tmp_path):
    archive = ROOT / "results" / "archive" / "figures_fixed_recipe"
    assert load_script("figure").main(
        ["--experiment", str(archive / "expansion.yaml"), "--results-dir",
         str(ROOT / "results"), "--no-run", "--out", str(tmp_path),
         "--figures", str(tmp_path)]) == 0
    for name in ("expansion.md", "expansion.csv"):
        assert (tmp_path / name).read_text() == (archive / name).read_text(), name


def test_the_conv_experiment_stores_each_ratio_of_its_cnn():
    exp = load_grid(ROOT / "experiments" / "conv.yaml")
    grid = points(exp)
    stored = {}
    for point in grid:
        cfg = compose_config([*exp.common, *point.overrides, "dataset=fashion_basic"])
        assert cfg.dataset.test_size == 10_000 and cfg.arch.conv
        stored[(point.model, point.x)] = count_parameters(model_from_config(cfg, (1, 28, 28), 10))
    dense = stored[("dense", None)]
    assert dense == 106_890
    for (model, x), n in stored.items():
        if x is not None:   # hashed: the budget rounded to a value; NN: integer widths
            assert abs(n / dense - x) / x < (0.005 if model != "NN" else 0.03), (model, x)
    assert {s.point.x for s in grid_studies(exp)} == {None, 0.125, 0.015625}
