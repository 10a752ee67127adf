"""Figures from tables and records: error bars per row, validation curves per label."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mfh.report.tables import Table  # noqa: E402


def plot_table(table: Table, path: str | Path) -> Path:
    """One panel per dataset column: each row's mean test error (%) with ± SE bars."""
    fig, axes = plt.subplots(1, len(table.datasets), squeeze=False,
                             figsize=(5 * len(table.datasets), 0.35 * len(table.rows) + 1.2))
    names = [f"{row.id} {row.label}".strip() for row in table.rows]
    for ax, dataset in zip(axes[0], table.datasets, strict=True):
        cells = [table.cells.get((row.label, dataset)) for row in table.rows]
        means = [c.mean if c else np.nan for c in cells]
        errors = [c.se or 0.0 if c else 0.0 for c in cells]
        y = np.arange(len(names))
        ax.barh(y, means, xerr=errors, color="tab:blue", alpha=0.8, capsize=3)
        for k, c in enumerate(cells):
            if c:
                ax.text(c.mean + (c.se or 0) + 0.1, k, f"{c.mean:.2f} (n={c.n})", va="center",
                        fontsize=7)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("test error (%), mean ± SE")
        ax.set_title(dataset)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_curves(records: list[dict], path: str | Path) -> Path:
    """Validation error (%) per epoch, one line per label: at each epoch the mean over the
    seeds still running then (with early stopping, runs end at different epochs)."""
    by_label: dict[str, list[list[float]]] = {}
    for r in records:
        if r["status"] == "ok":
            by_label.setdefault(r["label"], []).append(r["metrics"]["curves"]["valid_error"])
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = plt.cm.tab20(np.linspace(0, 1, 20))
    for k, (name, curves) in enumerate(sorted(by_label.items())):
        length = max(len(c) for c in curves)
        mean = [np.mean([c[e] for c in curves if len(c) > e]) for e in range(length)]
        ax.plot(np.arange(1, length + 1), mean, label=f"{name} (n={len(curves)})",
                color=colors[k % 20], linestyle=("-", "--", ":")[k // 20 % 3])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%), mean over running seeds")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grid(stats, kind: str, caption: str, path: str | Path) -> Path:
    """Test error (%) against x, one panel per (dataset, arch): each model's mean with a ± SE
    band over seeds; the reference (x empty) as a horizontal line with its band. `stats` is
    `mfh.report.grid.summary`'s frame; `kind` `ratio` (x: compression, 1 on the left) or
    `expansion` (x: virtual / stored width)."""
    panels = list(dict.fromkeys(zip(stats["dataset"], stats["arch"], strict=True)))
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(4.6 * cols, 3.6 * rows + 0.6))
    colors = dict(zip(dict.fromkeys(stats["model"]), plt.cm.tab10.colors, strict=False))
    for ax, (dataset, arch) in zip(axes.flat, panels, strict=False):
        panel = stats[(stats["dataset"] == dataset) & (stats["arch"] == arch)]
        for model, group in panel.groupby("model", sort=False):
            se = group["se"].fillna(0).to_numpy()
            mean = group["mean"].to_numpy()
            if group["x"].isna().all():
                ax.axhline(mean[0], color="black", linestyle="--", linewidth=1,
                           label=f"{model} (n={int(group['n'].iloc[0])})")
                ax.axhspan(mean[0] - se[0], mean[0] + se[0], color="black", alpha=0.08)
                continue
            order = np.argsort(group["x"].to_numpy())
            x = group["x"].to_numpy()[order]
            low, high = int(group["n"].min()), int(group["n"].max())
            ax.plot(x, mean[order], marker="o", markersize=3, color=colors[model],
                    label=f"{model} (n={low}{'' if low == high else f'-{high}'})")
            ax.fill_between(x, (mean - se)[order], (mean + se)[order], color=colors[model],
                            alpha=0.2)
        ax.set_xscale("log", base=2)
        xs = sorted(panel["x"].dropna().unique())
        ax.set_xticks(xs, [(f"1/{round(1 / v)}" if v < 1 else "1") if kind == "ratio"
                           else f"{v:g}x" for v in xs], fontsize=7)
        if kind == "ratio":
            ax.invert_xaxis()
        ax.set_xlabel("compression ratio (stored / virtual)" if kind == "ratio"
                      else "expansion (virtual / stored hidden width)")
        ax.set_ylabel("test error (%), mean ± SE")
        ax.set_title(f"{dataset}, {arch}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(caption, fontsize=7, wrap=True)
    fig.tight_layout()
    return _save(fig, path)
