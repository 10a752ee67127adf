"""Figure experiments: the ratio sweep and the expansion study, from file to figure."""

from __future__ import annotations

from conftest import ROOT
from test_tables import load_script

from mfh.harness.config import compose_config
from mfh.harness.models import count_parameters, model_from_config
from mfh.report.grid import collect, load_grid, points, summary

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
