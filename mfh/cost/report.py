"""Writing the cost results: CSV files, Markdown tables and the figure."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

SUMMARY_COLUMNS = ("layer", "model", "batch", "measure", "seconds", "ratio_to_dense")
FLOPS_COLUMNS = ("layer", "model", "batch", "pass", "matmul", "reconstruction", "optimizer",
                 "total", "gathers", "tanh", "ratio_to_dense", "analytic_counted", "flop_counter")
MEMORY_COLUMNS = ("layer", "model", "batch", "quantity", "bytes", "ratio_to_dense")
MEASURE_ORDER = ("step", "forward", "backward", "inference_cached", "reconstruction",
                 "access_floor", "g_floor")


def write_csv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({c: _cell(row.get(c)) for c in columns} for row in rows)


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _models_in_order(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in rows))


def time_table(rows: list[dict], layer: str) -> str:
    """Markdown: one row per model, one column per (measure, batch); 'ms (x ratio)'."""
    rows = [r for r in rows if r["layer"] == layer]
    keys = sorted({(r["measure"], int(r["batch"])) for r in rows},
                  key=lambda k: (MEASURE_ORDER.index(k[0]), k[1]))
    cells = {(r["model"], r["measure"], int(r["batch"])): r for r in rows}
    head = ["model"] + [f"{m} (b={b})" if b else f"{m} (any b)" for m, b in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _models_in_order(rows):
        out = [model]
        for measure, batch in keys:
            row = cells.get((model, measure, batch))
            out.append("" if row is None else _time_cell(row))
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines)


def _time_cell(row: dict) -> str:
    ms = 1e3 * float(row["seconds"])
    ratio = row["ratio_to_dense"]
    return f"{ms:.3g} ms" + (f" (x{float(ratio):.2f})" if ratio not in ("", None) else "")


def flops_table(rows: list[dict], layer: str, batch: int) -> str:
    """Markdown: step FLOPs at one batch size, split into parts, with torch's forward count."""
    rows = [r for r in rows if r["layer"] == layer and int(r["batch"]) == batch]
    step = {r["model"]: r for r in rows if r["pass"] == "step"}
    fwd = {r["model"]: r for r in rows if r["pass"] == "forward"}
    head = ["model", "matmul", "reconstruction", "optimizer", "total", "x dense", "gathers",
            "tanh", "forward: analytic / flop_counter"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _models_in_order(rows):
        s, f = step[model], fwd[model]
        check = f"{_si(f['analytic_counted'])} / {_si(f['flop_counter'])}"
        lines.append("| " + " | ".join([
            model, _si(s["matmul"]), _si(s["reconstruction"]), _si(s["optimizer"]),
            _si(s["total"]), f"{float(s['ratio_to_dense']):.2f}", _si(s["gathers"]),
            _si(s["tanh"]), check]) + " |")
    return "\n".join(lines)


def memory_table(rows: list[dict], layer: str) -> str:
    """Markdown: stored parameters, stored indices, peak training memory per batch size."""
    rows = [r for r in rows if r["layer"] == layer]
    keys = sorted({(r["quantity"], int(r["batch"])) for r in rows})
    cells = {(r["model"], r["quantity"], int(r["batch"])): r for r in rows}
    head = ["model"] + [f"{q} (b={b})" if b else q for q, b in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _models_in_order(rows):
        out = [model]
        for quantity, batch in keys:
            row = cells.get((model, quantity, batch))
            if row is None:
                out.append("")
                continue
            ratio = row["ratio_to_dense"]
            out.append(_bytes(float(row["bytes"]))
                       + (f" (x{float(ratio):.2f})" if ratio not in ("", None) else ""))
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines)


HEADLINE_MODELS = ("dense", "naive", "HashedNets", "U4-G3", "U4-G3-D")

# Issue 14's targets on the whole 3-layer net at batch 50: step / step floor per model, and
# cached inference / dense for every model.
STEP_FLOOR_TARGETS = {"HashedNets": 1.20, "U4-G3": 1.50, "U4-G3-D": 1.50}
CACHED_TARGET = 1.10
TARGET_LAYER = "mlp3"


def headline_table(summary: list[dict], flop_rows: list[dict], memory: list[dict],
                   titles: dict[str, str]) -> str:
    """Markdown: per layer and headline model, step time / dense at every batch size, cached
    inference and FLOPs at batch 50, the batch-independent reconstruction time, peak training
    memory at batch 50, and the step's floor at batch 50: (dense forward + dense backward +
    access_floor) / dense step, the least step ratio that the same matrix products plus the
    method's random memory accesses allow on this CPU."""
    def ratio(rows: list[dict], **key: object) -> str:
        for r in rows:
            if all(str(r[k]) == str(v) for k, v in key.items()):
                return f"{float(r['ratio_to_dense']):.2f}" if r["ratio_to_dense"] else ""
        return ""

    def floor(layer: str, model: str) -> str:
        value = step_floor(summary, layer, model)
        return "" if value is None else f"{value:.2f}"

    batches = sorted({int(r["batch"]) for r in summary if r["measure"] == "step"})
    head = (["layer", "model"] + [f"step b={b}" for b in batches]
            + ["inference cached b=50", "reconstruction ms", "FLOPs step b=50",
               "peak memory b=50", "step floor b=50"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for layer in dict.fromkeys(r["layer"] for r in summary):
        for model in HEADLINE_MODELS:
            recon = [r for r in summary if (r["layer"], r["model"], r["measure"])
                     == (layer, model, "reconstruction")]
            cells = [titles.get(layer, layer), model]
            cells += [ratio(summary, layer=layer, model=model, measure="step", batch=b)
                      for b in batches]
            cells += [ratio(summary, layer=layer, model=model, measure="inference_cached",
                            batch=50),
                      f"{1e3 * float(recon[0]['seconds']):.3g}" if recon else "",
                      ratio(flop_rows, layer=layer, model=model, batch=50, **{"pass": "step"}),
                      ratio(memory, layer=layer, model=model, batch=50, quantity="peak_train"),
                      floor(layer, model)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summary_row(summary: list[dict], layer: str, model: str, measure: str,
                 batch: int) -> dict | None:
    """The summary row of (layer, model, measure, batch), or None."""
    return next((r for r in summary if (r["layer"], r["model"], r["measure"], int(r["batch"]))
                 == (layer, model, measure, batch)), None)


def step_floor(summary: list[dict], layer: str, model: str, with_g: bool = False
               ) -> float | None:
    """(dense forward + dense backward + access floor) / dense step at batch 50: the least step
    ratio the same matrix products plus the method's random memory accesses allow. `with_g`
    adds g's arithmetic floor (`g_floor`; in a run that measured it, a model without the row
    has no g: HashedNets, the identity). None when a row is missing, and with `with_g` for a
    run without g_floor rows (made before it was measured)."""
    def seconds(who: str, measure: str, batch: int) -> float | None:
        row = _summary_row(summary, layer, who, measure, batch)
        return None if row is None else float(row["seconds"])

    parts = [seconds("dense", m, 50) for m in ("forward", "backward", "step")]
    access = seconds(model, "access_floor", 0)
    measured_g = any(r["measure"] == "g_floor" for r in summary)
    if None in parts or access is None or (with_g and not measured_g):
        return None
    forward, backward, step = parts
    arithmetic = (seconds(model, "g_floor", 0) or 0.0) if with_g else 0.0
    return (forward + backward + access + arithmetic) / step


def targets_table(summary: list[dict], layer: str = TARGET_LAYER) -> str:
    """Markdown: issue 14's targets, measured in this run on `layer` at batch 50. Per model:
    step / dense, step floor, step / step floor against its target, cached inference / dense
    against `CACHED_TARGET`; `met` or `not met` (empty: a row is missing)."""
    def ratio(model: str, measure: str) -> float | None:
        row = _summary_row(summary, layer, model, measure, 50)
        return float(row["ratio_to_dense"]) if row and row["ratio_to_dense"] else None

    def verdict(value: float | None, target: float) -> str:
        return "" if value is None else ("met" if value <= target else "not met")

    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    head = ["model", "step / dense", "step floor", "step / step floor", "target", "verdict",
            "step floor with g", "step / that", "cached inference / dense",
            f"target {CACHED_TARGET:.2f}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _models_in_order([r for r in summary if r["layer"] == layer]):
        step, floor = ratio(model, "step"), step_floor(summary, layer, model)
        with_g = step_floor(summary, layer, model, with_g=True)
        over = None if step is None or floor is None else step / floor
        over_g = None if step is None or with_g is None else step / with_g
        target = STEP_FLOOR_TARGETS.get(model)
        cached = ratio(model, "inference_cached")
        if step is None and cached is None:
            continue
        lines.append("| " + " | ".join([
            model, fmt(step), fmt(floor), fmt(over),
            "" if target is None else f"<= {target:.2f}",
            "" if target is None else verdict(over, target),
            fmt(with_g), fmt(over_g), fmt(cached), verdict(cached, CACHED_TARGET)]) + " |")
    return "\n".join(lines)


def targets_spread(summaries: list[list[dict]], layer: str = TARGET_LAYER) -> str:
    """Markdown: issue 14's ratios over several runs of the same benchmark (one summary each):
    min / median / max of step / step floor and of cached inference / dense per model, and in
    how many runs each target held - one run near a threshold decides nothing."""
    def ratios(summary: list[dict], model: str) -> tuple[float | None, float | None]:
        step = _summary_row(summary, layer, model, "step", 50)
        cached = _summary_row(summary, layer, model, "inference_cached", 50)
        floor = step_floor(summary, layer, model)
        over = float(step["ratio_to_dense"]) / floor if step and floor else None
        return over, float(cached["ratio_to_dense"]) if cached else None

    def spread(values: list[float], target: float | None) -> list[str]:
        if not values:
            return ["", ""]
        cells = [f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"]
        held = sum(v <= target for v in values) if target is not None else None
        return cells + ["" if held is None else f"{held} of {len(values)}"]

    head = ["model", "step / step floor: min / median / max", "target held",
            "cached inference / dense: min / median / max", f"<= {CACHED_TARGET:.2f} held"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in _models_in_order([r for r in summaries[0] if r["layer"] == layer]):
        pairs = [ratios(summary, model) for summary in summaries]
        steps = [a for a, _ in pairs if a is not None]
        cached = [b for _, b in pairs if b is not None]
        lines.append("| " + " | ".join([model, *spread(steps, STEP_FLOOR_TARGETS.get(model)),
                                        *spread(cached, CACHED_TARGET)]) + " |")
    return "\n".join(lines)


def _si(value: str | float) -> str:
    x = float(value)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def _bytes(x: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.0f} B"


FLOOR_LAYER = "mlp3"   # the case whose step floor the figure draws


def figure(summary: list[dict], path: Path, titles: dict[str, str]) -> None:
    """Left: step time / dense at batch 50 per model and layer, and the whole net's step floor
    (`step_floor`). Right: share of the step spent rebuilding virtual weights (reconstruction /
    step) against the batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5),
                                      gridspec_kw={"width_ratios": [2.2, 1]})
    step50 = [r for r in summary if r["measure"] == "step" and int(r["batch"]) == 50
              and "[" not in r["model"]]
    models = _models_in_order(step50)
    for layer in dict.fromkeys(r["layer"] for r in step50):
        ratios = {r["model"]: float(r["ratio_to_dense"]) for r in step50 if r["layer"] == layer}
        xs = [i for i, m in enumerate(models) if m in ratios]
        line, = left.plot(xs, [ratios[models[i]] for i in xs], "o-",
                          label=titles.get(layer, layer))
        if layer == FLOOR_LAYER:
            floors = [(i, step_floor(summary, layer, models[i])) for i in xs]
            floors = [(i, f) for i, f in floors if f is not None]
            if floors:
                left.plot(*zip(*floors, strict=True), "_--", color=line.get_color(), ms=12,
                          label=f"{titles.get(layer, layer)}: step floor")
    left.axhline(1, color="grey", lw=0.8)
    left.set_yscale("log")
    left.set_xticks(range(len(models)), models, rotation=60, ha="right")
    left.set_ylabel("step time / dense step time (batch 50)")
    left.set_title("Training step cost")
    recon = {(r["layer"], r["model"]): float(r["seconds"]) for r in summary
             if r["measure"] == "reconstruction"}
    steps = [r for r in summary if r["measure"] == "step" and (r["layer"], r["model"]) in recon]
    for layer, model in dict.fromkeys((r["layer"], r["model"]) for r in steps):
        if model not in ("HashedNets", "U4-G3", "U4-G3-D") or layer not in ("fc1", "conv"):
            continue
        pts = sorted((int(r["batch"]), recon[layer, model] / float(r["seconds"]))
                     for r in steps if (r["layer"], r["model"]) == (layer, model))
        right.plot(*zip(*pts, strict=True), "o-", label=f"{model}, {layer}")
    right.set_xscale("log")
    right.set_xlabel("batch size")
    right.set_ylabel("reconstruction time / step time")
    right.set_title("Where the step time goes")
    for ax in (left, right):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
