# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The review of MFH, answered from the records
#
# Every number below is read from a results folder (records in `runs/`, the cost benchmark in
# `cost/`) through `mfh.report`; nothing is typed in by hand. `make report` executes this
# notebook on `results/` and writes `results/report.html`; the tests execute it on a small
# folder they write. The reviewer asked for: (1) compute costs for fully connected and
# convolutional layers, (2) every configuration run several times with mean and standard
# error, (3) U1 rows in Table 1, and (4) a Table 1 that never shows one configuration twice.

# %% tags=["parameters"]
results_dir = "results"   # the folder to report on (papermill-style parameter)
layout_file = "experiments/table1.yaml"
figure_experiments = ["experiments/ratio_sweep.yaml", "experiments/expansion.yaml"]

# %%
import csv
import tempfile
from pathlib import Path

from IPython.display import Image, Markdown, display

from mfh.cost.cases import CASES
from mfh.report.claims import errors_by_seed, evaluate
from mfh.report.claims import to_markdown as claims_markdown
from mfh.report.grid import collect, load_grid
from mfh.report.grid import summary as grid_summary
from mfh.report.grid import to_markdown as grid_markdown
from mfh.report.plots import plot_curves, plot_grid, plot_table
from mfh.report.tables import (
    distinct_configs,
    layout_entries,
    layout_table,
    load_layout,
    ready_columns,
    resolve_rows,
    to_markdown,
)

results = Path(results_dir)
figures = Path(tempfile.mkdtemp())   # the report's own figures, embedded in its output

# %% [markdown]
# ## (1) Compute cost of HashedNets and MFH, fully connected and convolutional layers
#
# Training-step time at batch 50 as a ratio to the dense layer measured in the same run
# (`make bench`; how it is measured: docs/cost.md).

# %%
summary = results / "cost" / "summary.csv"
if summary.exists():
    rows = list(csv.DictReader(summary.open()))
    models = ["HashedNets", "U4-G3", "U4-G3-D"]
    layers = [name for name in CASES if any(r["layer"] == name for r in rows)]
    step = {(r["layer"], r["model"]): float(r["ratio_to_dense"]) for r in rows
            if r["batch"] == "50" and r["measure"] == "step"}
    lines = ["| layer | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    lines += ["| " + CASES[layer].title + " | " + " | ".join(
        f"{step[(layer, m)]:.2f}x" if (layer, m) in step else "–" for m in models) + " |"
        for layer in layers]
    display(Markdown("\n".join(lines)))
    if (results / "cost" / "cost.png").exists():
        display(Image(filename=str(results / "cost" / "cost.png")))
else:
    display(Markdown(f"No cost benchmark under `{results / 'cost'}` (run `make bench`)."))

# %% [markdown]
# ## (2) Repeated runs: Table 1 with mean ± standard error, and the paired comparisons

# %%
layout, untuned = ready_columns(load_layout(layout_file))
resolved = resolve_rows(layout)
table = layout_table(layout, results)
display(Markdown(to_markdown(table)))
if untuned:
    display(Markdown(f"Columns whose recipes are not tuned yet, left out: {', '.join(untuned)}."))
display(Image(filename=str(plot_table(table, figures / "report_table1.png"))))

# %% [markdown]
# The paper's claims, each comparison paired by seed (same split, same batch order):

# %%
entries = layout_entries(layout, resolved, results)
claims = evaluate(layout.claims, layout.datasets, errors_by_seed(entries))
display(Markdown(claims_markdown(claims)))

# %% [markdown]
# Validation error per epoch (mean over seeds), to see whether the runs converged:

# %%
curves = plot_curves([record for _, _, record in entries], figures / "report_curves.png")
display(Image(filename=str(curves)))

# %% [markdown]
# ## (3) The U1 rows
#
# U1-G3 is one hash with a learned g over the shared space; HashedNets is one hash, identity g
# and one space per layer. Both at the same budget:

# %%
u1 = [row for row in table.rows if row.label in ("U1-G3", "HashedNets")]
lines = ["| id | configuration | " + " | ".join(table.datasets) + " |",
         "|---|---|" + "---:|" * len(table.datasets)]
for row in u1:
    cells = [table.cells.get((row.label, d)) for d in table.datasets]
    lines.append(f"| {row.id} | {row.label} | " + " | ".join(
        "–" if c is None else f"{c.mean:.2f} ± {(c.se or 0):.2f} ({c.n})" for c in cells) + " |")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## (4) One configuration, one value
#
# Rows that name the same configuration are one set of records: run once, shown with one value.

# %%
groups = distinct_configs(resolved)
shared = [g for g in groups if len(g) > 1]
lines = [f"{len(layout.rows)} rows, {len(groups)} distinct configurations."]
for group in shared:
    ids = ", ".join(r.row.id for r in group)
    lines.append(f"- {group[0].label} at {ids}: one configuration, one value per column.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## The papers' other evidence: error against compression, and the expansion study
#
# The figure experiments (`make ratio-sweep`, `make expansion`), drawn from their records under
# `results/experiments/<name>/` where they exist.

# %%
shown = []
for experiment in figure_experiments:
    grid = load_grid(experiment)
    name = grid.name
    frame = collect(grid, results / "experiments" / name)
    if frame.empty or (frame["status"] != "ok").all():
        continue
    stats = grid_summary(frame)
    display(Markdown(grid_markdown(stats, grid.caption)))
    display(Image(filename=str(plot_grid(stats, grid.kind, grid.caption,
                                         figures / f"report_{name}.png"))))
    shown.append(name)
if not shown:
    display(Markdown("No records of the figure experiments yet (`make ratio-sweep`, "
                     "`make expansion`)."))
