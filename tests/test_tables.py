"""Tables from records: aggregation, label collisions, rendering, layouts and the CLIs."""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import re
from pathlib import Path

import pytest

from mfh.harness import sweep
from mfh.harness.config import compose_config, model_specs, to_dict
from mfh.harness.records import iter_records, record_path, signature, write_record
from mfh.report.tables import (
    Cell,
    LabelCollision,
    NoRecords,
    Row,
    Table,
    aggregate,
    best_cells,
    generic_table,
    label_order,
    layout_caption,
    layout_table,
    load_layout,
    resolve_rows,
    to_csv,
    to_latex,
    to_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
FIXED_RECIPE = ROOT / "results" / "archive" / "fixed_recipe" / "table1_fixed_recipe.yaml"
MFH = ["model=mfh", "hashes=4", "model.g_layers=3"]


def search_folder(argv: list[str]) -> Path:
    """The row-config folder a sweep's argv puts on Hydra's search path."""
    item = next(a for a in argv if a.startswith("hydra.searchpath="))
    return Path(item.removeprefix("hydra.searchpath=[file://").removesuffix("]"))


def load_script(name: str):
    """Import scripts/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def put(results: Path, overrides: list[str], seed: int, error: float | None,
        dataset: str | None = None) -> dict:
    """Write a well-formed record (status failed when `error` is None); return its config."""
    cfg = compose_config(overrides)
    config = to_dict(cfg)
    if dataset is not None:  # a second column without a second dataset config file
        config["dataset"]["name"] = dataset
    failed = error is None
    write_record(record_path(results, config, seed), {
        "schema": 1, "status": "failed" if failed else "ok", "label": model_specs(cfg)[1].label,
        "signature": signature(config), "seed": seed, "dataset": config["dataset"]["name"],
        "config": config,
        "metrics": None if failed else {"test_error": error, "valid_error": error,
                                        "best_epoch": 2, "train_loss": 0.1,
                                        "curves": {"valid_error": [error + 1, error],
                                                   "test_error": [error + 1, error],
                                                   "train_loss": [0.5, 0.1]}},
        "failure": {"epoch": 1, "reason": "loss is NaN"} if failed else None,
        "compression": {"nominal": config["compression"], "ratio": config["compression"],
                        "stored_params": 0, "virtual_params": 0},   # made-up accounting
    })
    return config


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """dense (2, 3), HashedNets (3), U4-G3 (1, 2, 4 and one failed run) on mnist5k."""
    for seed, error in enumerate([2.0, 3.0]):
        put(tmp_path, ["model=dense"], seed, error)
    put(tmp_path, ["model=hashednets"], 0, 3.0)
    for seed, error in enumerate([1.0, 2.0, 4.0, None]):
        put(tmp_path, MFH, seed, error)
    return tmp_path


def test_cell_mean_standard_error_and_n():
    def entries(errors):
        return [("U4-G3", "d", {"status": "ok", "metrics": {"test_error": e}}) for e in errors]

    c = aggregate(entries([1.0, 2.0, 4.0]))[0][("U4-G3", "d")]
    assert c.mean == pytest.approx(7 / 3)
    assert c.se == pytest.approx(math.sqrt(7) / 3)  # stdev (ddof=1) sqrt(7/3), over sqrt(3)
    assert c.n == 3
    assert aggregate(entries([2.5]))[0][("U4-G3", "d")].se is None
    mixed = entries([1.0]) + [("U4-G3", "d", {"status": "failed", "metrics": None})]
    assert aggregate(mixed)[1] == {("U4-G3", "d"): 1}


def test_generic_table_aggregates_ok_records_and_counts_failed(results):
    table = generic_table(iter_records(results))
    assert [r.label for r in table.rows] == ["dense", "HashedNets", "U4-G3"]
    assert table.datasets == ["mnist5k"]
    u4 = table.cells[("U4-G3", "mnist5k")]
    assert (u4.n, u4.mean) == (3, pytest.approx(7 / 3))
    assert table.cells[("dense", "mnist5k")].se == pytest.approx(0.5)
    assert table.failed == {("U4-G3", "mnist5k"): 1}


def test_label_order_dense_hashednets_then_u_g_dual():
    labels = ["U16-G3", "U4-G3-D", "U4-G3", "HashedNets", "U2-G3", "U4-G2", "dense", "U1-G3"]
    assert sorted(labels, key=label_order) == [
        "dense", "HashedNets", "U1-G3", "U2-G3", "U4-G2", "U4-G3", "U4-G3-D", "U16-G3"]
    baselines = ["HashedNets+DK", "RER", "U4-G3", "NN+DK", "HashedNets", "LRD", "NN", "dense"]
    assert sorted(baselines, key=label_order) == [
        "dense", "NN", "NN+DK", "LRD", "RER", "HashedNets", "HashedNets+DK", "U4-G3"]


def test_markdown_cells_bold_best_and_failed_note(results):
    md = to_markdown(generic_table(iter_records(results), caption="Test error (%)"))
    lines = md.splitlines()
    assert lines[0] == "Test error (%)"
    assert "| configuration | mnist5k |" in lines
    assert "| dense | 2.50 ± 0.50 (2) |" in lines
    assert "| HashedNets | 3.00 (1) |" in lines  # n = 1: no standard error
    assert "| U4-G3 | **2.33 ± 0.88 (3)** |" in lines
    assert md.count("**") == 2
    assert "Skipped failed runs: U4-G3 on mnist5k (1)." in lines


def test_bold_is_per_column(tmp_path):
    put(tmp_path, ["model=dense"], 0, 1.0)
    put(tmp_path, MFH, 0, 2.0)
    put(tmp_path, ["model=dense"], 0, 9.0, dataset="other")
    put(tmp_path, MFH, 0, 5.0, dataset="other")
    table = generic_table(iter_records(tmp_path))
    assert table.datasets == ["mnist5k", "other"]
    assert best_cells(table) == {("dense", "mnist5k"), ("U4-G3", "other")}
    assert "| dense | **1.00 (1)** | 9.00 (1) |" in to_markdown(table)


def test_bold_ties_compare_displayed_values():
    table = Table([Row("a"), Row("b"), Row("c")], ["d"],
                  {("a", "d"): Cell(1.001, None, 1), ("b", "d"): Cell(0.998, None, 1),
                   ("c", "d"): Cell(2.0, None, 1)})
    assert best_cells(table) == {("a", "d"), ("b", "d")}


def test_csv_has_mean_se_n_failed_columns_and_no_bold(results):
    text = to_csv(generic_table(iter_records(results)))
    assert "**" not in text
    rows = {r["configuration"]: r for r in csv.DictReader(io.StringIO(text))}
    assert list(rows) == ["dense", "HashedNets", "U4-G3"]
    assert float(rows["U4-G3"]["mnist5k_mean"]) == pytest.approx(7 / 3)
    assert float(rows["U4-G3"]["mnist5k_se"]) == pytest.approx(math.sqrt(7) / 3)
    assert (rows["U4-G3"]["mnist5k_n"], rows["U4-G3"]["mnist5k_failed"]) == ("3", "1")
    assert rows["HashedNets"]["mnist5k_se"] == ""


def test_latex_booktabs_bold_and_escaping(results):
    tex = to_latex(generic_table(iter_records(results), caption="Error (%) on data_set"))
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lr}"):
        assert rule in tex
    assert r"\caption{Error (\%) on data\_set}" in tex
    assert r"U4-G3 & \textbf{2.33 $\pm$ 0.88 (3)} \\" in tex
    assert r"dense & 2.50 $\pm$ 0.50 (2) \\" in tex
    assert tex.count(r"\textbf") == 1


def test_failed_records_only_give_no_table(tmp_path):
    put(tmp_path, MFH, 0, None)
    with pytest.raises(NoRecords, match="1 failed"):
        generic_table(iter_records(tmp_path))


def test_collision_in_one_column_names_label_and_both_configs(tmp_path):
    a = put(tmp_path, [*MFH, "epochs=20"], 0, 1.0)
    b = put(tmp_path, [*MFH, "epochs=2"], 0, 2.0)
    with pytest.raises(LabelCollision) as info:
        generic_table(iter_records(tmp_path))
    message = str(info.value)
    assert "'U4-G3'" in message and "column mnist5k" in message
    assert signature(a) in message and signature(b) in message
    assert re.search(r"epochs: (20 vs 2|2 vs 20)\)", message)


def test_collision_across_columns_ignores_dataset_only(tmp_path):
    put(tmp_path, MFH, 0, 1.0)
    put(tmp_path, MFH, 0, 1.5, dataset="other")  # same configuration on another dataset: fine
    assert len(generic_table(iter_records(tmp_path)).cells) == 2
    put(tmp_path, [*MFH, "optim.lr=0.05"], 0, 2.0, dataset="third")
    either_order = r"(0\.1 vs 0\.05|0\.05 vs 0\.1)"
    with pytest.raises(LabelCollision, match=rf"'U4-G3' .* columns .*optim\.lr: {either_order}"):
        generic_table(iter_records(tmp_path))


def write_layout(path: Path, rows: str) -> Path:
    path.write_text(
        "caption: 'Budget: {cfg.epochs} epochs, {n_seeds} seeds ({seeds}) on {datasets}'\n"
        "seeds: [0, 1]\ndatasets: [mnist5k]\ncommon: [arch=mlp3, epochs=3]\n" + rows)
    return path


TWICE = """rows:
  - {id: "(0)", text: reference, overrides: [model=mfh, hashes=4, model.g_layers=3]}
  - {id: "(1.1)", text: vary U, overrides: [model=mfh, hashes=1, model.g_layers=3]}
  - {id: "(1.3)", text: vary U, overrides: [model=mfh, hashes=4]}
"""


def test_layout_table_shows_one_value_for_a_configuration_listed_twice(tmp_path):
    layout = load_layout(write_layout(tmp_path / "t1.yaml", TWICE))
    runs = tmp_path / "results"
    for seed, error in enumerate([1.0, 3.0, 50.0]):  # seed 2 is not a layout seed
        put(runs, ["arch=mlp3", "epochs=3", *MFH], seed, error)
    put(runs, ["arch=mlp3", "epochs=3", "model=mfh", "hashes=1"], 0, 4.0)
    put(runs, [*MFH], 0, 0.5)  # other budget (epochs=20): another configuration, not shown
    table = layout_table(layout, runs)
    assert table.caption == "Budget: 3 epochs, 2 seeds (0, 1) on mnist5k"
    assert table.cells[("U4-G3", "mnist5k")].n == 2
    lines = to_markdown(table).splitlines()
    assert "| id | configuration | description | mnist5k |" in lines
    assert "| (0) | U4-G3 | reference | **2.00 ± 1.00 (2)** |" in lines
    assert "| (1.3) | U4-G3 | vary U | **2.00 ± 1.00 (2)** |" in lines
    assert "| (1.1) | U1-G3 | vary U | 4.00 (1) |" in lines


def test_layout_with_two_configurations_under_one_label_stops(tmp_path):
    rows = """rows:
  - {id: "(0)", overrides: [model=mfh, hashes=4]}
  - {id: "(9)", overrides: [model=mfh, hashes=4, optim.momentum=0.5]}
"""
    layout = load_layout(write_layout(tmp_path / "bad.yaml", rows))
    with pytest.raises(LabelCollision, match=r"'U4-G3'.*optim\.momentum: 0\.9 vs 0\.5"):
        resolve_rows(layout)


def test_table1_layout_rows_labels_and_caption():
    layout = load_layout(FIXED_RECIPE)
    labels = {r.row.id: r.label for r in resolve_rows(layout)}
    assert labels == {
        "(0)": "U4-G3", "(1.1)": "U1-G3", "(1.2)": "U2-G3", "(1.3)": "U4-G3", "(1.4)": "U8-G3",
        "(1.5)": "U16-G3", "(2.1)": "U4-G2", "(2.2)": "U4-G3", "(2.3)": "U4-G4",
        "(3.1)": "U4-G2-D", "(3.2)": "U4-G3-D", "(r.1)": "dense", "(r.2)": "HashedNets"}
    assert layout.seeds == (0, 1, 2, 3, 4)
    epochs = compose_config(list(layout.common)).epochs
    text = layout_caption(layout)
    assert f"{epochs} epochs" in text and "5 seeds" in text and "compression 0.125" in text


def test_tables_cli_writes_three_files(results, tmp_path, capsys):
    out = tmp_path / "out"
    assert load_script("tables").main(["--results-dir", str(results), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["table.csv", "table.md", "table.tex"]
    assert "| U4-G3 | **2.33 ± 0.88 (3)** |" in capsys.readouterr().out
    assert r"\toprule" in (out / "table.tex").read_text()


def test_tables_cli_layout_uses_layout_name(tmp_path):
    layout = write_layout(tmp_path / "mine.yaml", TWICE)
    put(tmp_path / "r", ["arch=mlp3", "epochs=3", *MFH], 0, 1.0)
    args = ["--results-dir", str(tmp_path / "r"), "--layout", str(layout), "--out", str(tmp_path)]
    assert load_script("tables").main(args) == 0
    assert (tmp_path / "mine.md").read_text().count("1.00 (1)") == 2


def test_tables_cli_exits_1_on_collision_and_without_records(tmp_path, capsys):
    tables = load_script("tables")
    assert tables.main(["--results-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("tables: no records")
    put(tmp_path, [*MFH, "epochs=20"], 0, 1.0)
    put(tmp_path, [*MFH, "epochs=2"], 0, 2.0)
    assert tables.main(["--results-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'U4-G3'" in err and "epochs" in err
    assert not (tmp_path / "o").exists()
    args = ["--results-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--where", "epochs=2"]
    assert tables.main(args) == 0  # --where selects one configuration


def test_table1_is_one_sweep_over_each_configuration_once(tmp_path):
    layout = load_layout(FIXED_RECIPE)
    progress, argv = sweep.sweep_command(layout, tmp_path, ["logger=none"])
    assert progress == "table1_fixed_recipe: 11 configurations x 1 datasets x 5 seeds = 55 jobs"
    folder = search_folder(argv)
    assert folder.parent == tmp_path / "hydra" / "layouts" / "table1_fixed_recipe"
    assert argv[1:5] == ["run.py", "-m", f"hydra.searchpath=[file://{folder}]",
                         "+row=" + ",".join(f"r{k}" for k in range(1, 12))]
    assert argv[5:] == [*layout.common, "dataset=mnist5k", "seed=0,1,2,3,4",
                        f"results_dir={tmp_path}", "logger=none"]
    first = (folder / "row" / "r1.yaml").read_text()
    assert first.startswith("# @package _global_\n# (0) (1.3) (2.2)\n")
    assert "override /model: mfh" in first and "g_layers: 3" in first


def test_sweeps_of_two_columns_at_once_keep_their_own_row_configs(tmp_path):
    """Two columns of one layout swept at the same time (two shells, or Slurm) once shared
    `row/r<k>.yaml`: the second overwrote the rows the first still had to launch."""
    layout_file = tmp_path / "two.yaml"
    layout_file.write_text(
        "caption: c\nseeds: [0]\ndatasets: [mnist5k, fashion_basic]\ncommon: [epochs=1]\n"
        "rows:\n  - {id: a, overrides: [model=dense]}\n"
        "  - {id: b, overrides: [model=mfh], datasets: [fashion_basic]}\n")
    layout = load_layout(layout_file)
    first = search_folder(sweep.sweep_command(layout, tmp_path, [], ("mnist5k",))[1])
    text = (first / "row" / "r1.yaml").read_text()
    second = search_folder(sweep.sweep_command(layout, tmp_path, [], ("fashion_basic",))[1])
    assert first != second and first.parent == second.parent
    assert (first / "row" / "r1.yaml").read_text() == text and "mnist5k" in text
    assert not (first / "row" / "r2.yaml").exists()
    again = search_folder(sweep.sweep_command(layout, tmp_path, [], ("mnist5k",))[1])
    assert again == first


def test_a_layout_sweep_writes_the_records_its_rows_name(tmp_path):
    """Row configs compose the configurations of their overrides: same signatures."""
    layout_file = tmp_path / "tiny.yaml"
    layout_file.write_text(
        "caption: tiny\nseeds: [0, 1]\ndatasets: [mnist5k]\n"
        "common: [epochs=1, train_limit=100]\nrows:\n"
        "  - {id: a, overrides: [model=dense]}\n"
        "  - {id: b, overrides: [model=mfh, hashes=2, model.dual=true]}\n")
    table1 = load_script("table1")
    assert table1.main(["--layout", str(layout_file), "--results-dir", str(tmp_path / "r"),
                        "logger=none", "checkpoint=false"]) == 0
    table = layout_table(load_layout(layout_file), tmp_path / "r")
    assert {(row.label, table.cells[(row.label, "mnist5k")].n) for row in table.rows} == {
        ("dense", 2), ("U2-G3-D", 2)}


def test_rows_with_seeds_of_their_own_run_and_show_them_and_pair_on_shared_seeds(tmp_path):
    layout_file = tmp_path / "more.yaml"
    layout_file.write_text(
        "caption: more\nseeds: [0, 1]\ndatasets: [mnist5k]\n"
        "common: [epochs=1, train_limit=100]\nrows:\n"
        "  - {id: a, reference: HashedNets, overrides: [model=dense], seeds: [0, 1, 2, 3]}\n"
        "  - {id: b, overrides: [model=hashednets]}\n")
    layout = load_layout(layout_file)
    commands = sweep.sweep_commands(layout, tmp_path / "r", [])
    assert [c[0] for c in commands] == ["more: 2 configurations x 1 datasets x 2 seeds = 4 jobs",
                                        "more: 1 configurations x 1 datasets x 2 seeds = 2 jobs"]
    assert "seed=2,3" in commands[1][1] and "+row=r1" in commands[1][1]
    assert load_script("table1").main(["--layout", str(layout_file), "--results-dir",
                                       str(tmp_path / "r"), "logger=none",
                                       "checkpoint=false"]) == 0
    table = layout_table(layout, tmp_path / "r")
    assert table.cells[("dense", "mnist5k")].n == 4
    assert table.cells[("HashedNets", "mnist5k")].n == 2
    assert table.paired[("a", "mnist5k")].result.n == 2   # paired on the seeds both have
    assert table.caption == "more Rows a: 4 seeds (0-3)."


def test_table1_pass_through_accepts_only_non_result_keys():
    sweep.check_pass_through(["logger=none", "device=cuda", "hydra/launcher=basic"])
    for bad in ("epochs=3", "seed=1", "results_dir=x", "logger"):
        with pytest.raises(ValueError, match="not allowed"):
            sweep.check_pass_through([bad])


def test_tables_cli_names_every_unreadable_record_and_exits_2(results, tmp_path, capsys):
    tables = load_script("tables")
    broken = sorted(results.glob("runs/*/seed=0.json"))[:2]
    for path in broken:
        path.write_text(path.read_text()[:40])   # truncated by a crash
    out = tmp_path / "o"
    assert tables.main(["--results-dir", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert all(f"unreadable record {path}" in err for path in broken)
    assert not out.exists()
    assert tables.main(["--results-dir", str(results), "--out", str(out),
                        "--skip-unreadable"]) == 0
    md = (out / "table.md").read_text()
    assert "Left out unreadable records: " + ", ".join(map(str, broken)) + "." in md
    assert r"Left out unreadable records" in (out / "table.tex").read_text()


def test_layout_rows_show_their_paired_difference_to_a_reference(tmp_path):
    layout_file = tmp_path / "l.yaml"
    layout_file.write_text(
        "caption: c\nseeds: [0, 1, 2]\ndatasets: [mnist5k]\ncommon: []\nrows:\n"
        "  - {id: a, reference: HashedNets, overrides: [model=mfh]}\n"
        "  - {id: b, overrides: [model=hashednets]}\n"
        "  - {id: c, reference: U4-G3, overrides: [model=mfh]}\n")
    for seed, (u4, hn) in enumerate([(1.0, 2.0), (1.5, 2.0), (2.0, 3.5)]):
        put(tmp_path, MFH, seed, u4)
        put(tmp_path, ["model=hashednets"], seed, hn)
    table = layout_table(load_layout(layout_file), tmp_path)
    cell = table.paired[("a", "mnist5k")]
    assert (cell.reference, cell.result.n) == ("HashedNets", 3)
    assert cell.result.mean == pytest.approx(-1.0)
    assert cell.result.se == pytest.approx(math.sqrt(0.25 / 3))   # differences -1, -0.5, -1.5
    md = to_markdown(table)
    assert "| mnist5k paired difference |" in md.splitlines()[2]
    assert "| -1.00 ± 0.29 vs HashedNets, p " in md and "| reference |" in md
    header = to_csv(table).splitlines()[0]
    assert header.endswith("mnist5k_reference,mnist5k_diff,mnist5k_diff_se,mnist5k_p_holm")
    assert r"vs HashedNets" in to_latex(table)
