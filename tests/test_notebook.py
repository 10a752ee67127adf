"""The review notebook executes headless on a results folder and renders to HTML with figures."""

import shutil

import pytest
from conftest import ROOT
from test_tables import put

from mfh.report.grid import load_grid, points
from mfh.report.notebook import execute, to_html
from mfh.report.tables import load_layout

pytest.importorskip("nbclient")
# rows without recipes
LAYOUT = ROOT / "results" / "archive" / "fixed_recipe" / "table1_fixed_recipe.yaml"
SWEEP = ROOT / "results" / "archive" / "figures_fixed_recipe" / "ratio_sweep.yaml"   # no recipes


@pytest.fixture
def results(tmp_path):
    """Records for every row of Table 1 (3 seeds, made-up errors) and the committed cost CSVs."""
    layout = load_layout(LAYOUT)
    for k, row in enumerate(layout.rows):
        for seed in range(3):
            put(tmp_path, [*layout.common, *row.overrides], seed, 5.0 + 0.1 * k + 0.3 * seed)
    sweep = load_grid(SWEEP)
    for point in points(sweep)[:3]:   # dense, NN at 1 and 1/2 on mlp3
        for seed in range(2):
            put(tmp_path / "experiments" / "ratio_sweep",
                [*sweep.common, *point.overrides, "dataset=mnist5k"], seed, 4.0 + seed)
    shutil.copytree(ROOT / "results" / "cost", tmp_path / "cost")
    return tmp_path


def test_review_notebook_executes_and_embeds_its_figures(results):
    nb = execute(results, layout_file=str(LAYOUT), figure_experiments=[str(SWEEP)])
    text = "".join(str(out.get("data", {}).get("text/markdown", ""))
                   for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "| (1.1) | U1-G3 | vary U at G3 |" in text            # Table 1 with its U1 row
    assert "MFH beats HashedNets" in text and "Holm" in text     # the claims
    assert "U4-G3 at (0), (1.3), (2.2): one configuration" in text
    assert "| fc 784->1000 (3-layer net) |" in text               # compute cost, fc and conv
    assert "conv 64->128" in text
    assert "| mnist5k | mlp3 | NN | 4.50 ± 0.50 (2) | 4.50 ± 0.50 (2) |  |" in text
    assert "| mnist5k | mlp3 | dense | – | – | 4.50 ± 0.50 (2) |" in text   # the ratio sweep
    html = to_html(nb)
    assert html.count("data:image/png;base64") >= 4              # cost, Table 1, curves, sweep
    assert not (results / "figures").exists()                     # nothing written to results
