"""Execute the review notebook (notebooks/review.py, jupytext percent format) headless on a
results folder, and export it to HTML with its figures embedded."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "review.py"


def execute(results_dir: str | Path, notebook: Path = NOTEBOOK, timeout: int = 600,
            **parameters: str):
    """The executed notebook (nbformat), run from the repository root with `results_dir` and
    any other `parameters` (e.g. `layout_file`) set in its parameters cell; raises nbclient's
    CellExecutionError on any cell error."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(notebook)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in {"results_dir": str(results_dir), **parameters}.items():
        cell.source += f"\n{name} = {value!r}   # injected"
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def to_html(nb) -> str:
    """The notebook as one HTML page, images embedded, code cells folded away."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True)
    body, _ = exporter.from_notebook_node(nb)
    return body
