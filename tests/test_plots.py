"""Figures are written from tables and records."""

from matplotlib.image import imread

from mfh.report.plots import plot_curves, plot_table
from mfh.report.tables import Cell, Row, Table


def test_plot_table_and_curves_write_pngs(tmp_path):
    table = Table([Row("dense", "(r.1)"), Row("U4-G3", "(0)")], ["mnist5k", "rect"],
                  {("dense", "mnist5k"): Cell(2.0, 0.1, 5), ("U4-G3", "rect"): Cell(3.0, None, 1)})
    image = imread(plot_table(table, tmp_path / "t.png"))
    assert image.shape[1] > image.shape[0] > 100  # two panels side by side
    records = [{"status": "ok", "label": "dense", "metrics": {"curves": {"valid_error": c}}}
               for c in ([5.0, 4.0, 3.0], [6.0, 5.0])]
    records.append({"status": "failed", "label": "U4-G3", "metrics": None})
    assert imread(plot_curves(records, tmp_path / "c.png")).size > 0
