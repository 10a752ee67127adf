"""The cost benchmark: time, FLOPs and memory of every case x model x batch, written to a folder.

`run(settings, out_dir)` writes summary.csv (times), flops.csv, memory.csv, summary.md (tables),
cost.png (figure) and meta.json (machine, threads, load, duration). Every time is the median of
repeated calls after warm-up; every ratio is to dense measured in the same run, interleaved
with the other models (see `measure.time_interleaved`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from mfh.cost import cases, flops, measure, report
from mfh.cost.cases import CASES, Case, ModelSpec
from mfh.harness.records import cpu_model, provenance
from mfh.method import kernels as native


@dataclass
class Settings:
    """What to run and how long to time it (see measure.time_interleaved)."""

    layers: tuple[str, ...] = ("fc1", "fc2", "conv", "mlp3")
    batches: tuple[int, ...] = (1, 50, 256)
    measures: tuple[str, ...] = measure.MEASURES
    models: list[ModelSpec] = field(default_factory=cases.grid_models)
    variants: list[ModelSpec] = field(default_factory=cases.variant_models)
    variant_case: tuple[str, int] = ("mlp3", 50)
    extras: bool = True          # reconstruction times, FLOPs, memory
    rounds: int = 2
    budget_s: float = 0.15
    min_calls: int = 2
    max_calls: int = 10
    threads: int = 2


def quick_settings() -> Settings:
    """The whole 3-layer net at batch 50: dense, naive, HashedNets, U4-G3, U4-G3-D; step,
    forward and backward (for the step floor) and inference_cached."""
    return Settings(layers=("mlp3",), batches=(50,), measures=measure.MEASURES,
                    models=cases.quick_models(), variants=[], extras=False)


class Progress:
    """Progress lines with the elapsed time."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:6.1f}s] {message}", flush=True)


def _ratio(value: float, dense: float | None) -> float:
    return value / dense if dense else float("nan")


def run(settings: Settings, out_dir: Path, log: Callable[[str], None] | None = None) -> None:
    """Run the benchmark and write its files into `out_dir`."""
    log = log or Progress()
    torch.set_num_threads(settings.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_before": os.getloadavg(),
            "threads": settings.threads,
            "openmp": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")},
            "torch": torch.__version__, "backend": native.backend(), "provenance": provenance(),
            "machine": platform.machine(), "cpu": cpu_model(),
            "settings": {k: v for k, v in asdict(settings).items()
                         if k not in ("models", "variants")}}
    log(f"backend {meta['backend']}, {settings.threads} threads, load {meta['load_before']}")
    times, flop_rows, memory_rows = [], [], []
    meta["load_per_layer"] = {}
    for name in settings.layers:
        case = CASES[name]
        specs = list(settings.models)
        if settings.variant_case[0] == name:
            specs += settings.variants
        modules = {}
        for spec in specs:
            with native.use_backend(spec.backend):
                modules[spec.label] = cases.build(case, spec)
        meta["load_per_layer"][name] = os.getloadavg()[0]
        log(f"{name}: built {len(modules)} models (load {os.getloadavg()[0]:.2f})")
        backends = {spec.label: spec.backend for spec in specs}
        for batch in settings.batches:
            labels = [s.label for s in specs
                      if s in settings.models or (name, batch) == settings.variant_case]
            times += _time_batch(case, {k: modules[k] for k in labels}, backends, batch,
                                 settings, log)
            if settings.extras:
                flop_rows += _flops(case, {k: modules[k] for k in labels}, batch)
                memory_rows += _memory(case, {k: modules[k] for k in labels}, backends, batch)
        if settings.extras:
            times += _reconstruction(case, modules, backends, settings, log)
            memory_rows += _stored(case, modules)
        times += _floors(case, modules, backends, times, settings, log)
        del modules
    meta.update(finished=time.strftime("%Y-%m-%d %H:%M:%S"), load_after=os.getloadavg())
    _write(out_dir, times, flop_rows, memory_rows, meta)
    if report.TARGET_LAYER in settings.layers:
        log("targets (issue 14):\n"
            + report.targets_table(report.read_csv(out_dir / "summary.csv")))
    log(f"wrote {out_dir}")


def _time_batch(case: Case, modules: dict, backends: dict, batch: int, settings: Settings,
                log: Callable[[str], None]) -> list[dict]:
    rows = []
    inputs = {k: cases.make_inputs(case, m, batch) for k, m in modules.items()}
    optimizers = {k: measure.make_optimizer(m) for k, m in modules.items()}
    for name in settings.measures:
        runs = {k: measure.runner(case, m, inputs[k], name, optimizers[k])
                for k, m in modules.items()}
        samples = measure.time_interleaved(
            runs, settings.rounds, settings.budget_s, settings.min_calls, settings.max_calls,
            lambda k: native.use_backend(backends[k]))
        dense = measure.median(samples["dense"]) if "dense" in samples else None
        for label, values in samples.items():
            seconds = measure.median(values)
            rows.append(dict(layer=case.name, model=label, batch=batch, measure=name,
                             seconds=seconds, ratio_to_dense=_ratio(seconds, dense)))
            log(f"{case.name} b={batch} {name:16s} {label:22s} {1e3 * seconds:9.3f} ms"
                f"  x{_ratio(seconds, dense):.2f}  ({len(values)} calls)")
    for module in modules.values():
        module.train()
    return rows


def _reconstruction(case: Case, modules: dict, backends: dict, settings: Settings,
                    log: Callable[[str], None]) -> list[dict]:
    runs = {k: r for k, m in modules.items() if (r := measure.reconstruction_runner(m))}
    return _batch_free_rows(case, "reconstruction", runs, None,
                            lambda k: native.use_backend(backends[k]), settings, log)


def _floors(case: Case, modules: dict, backends: dict, times: list[dict],
            settings: Settings, log: Callable[[str], None]) -> list[dict]:
    """`access_floor` and `g_floor` rows; the ratio is to the dense `step` of this case at
    batch 50 (or the largest batch timed)."""
    steps = {r["batch"]: r["seconds"] for r in times
             if r["layer"] == case.name and r["model"] == "dense" and r["measure"] == "step"}
    dense = steps.get(50, steps[max(steps)] if steps else None)
    rows = []
    for name, make in (("access_floor", measure.access_floor_runner),
                       ("g_floor", measure.g_floor_runner)):
        runs = {k: r for k, m in modules.items() if backends[k] == "auto" and (r := make(m))}
        rows += _batch_free_rows(case, name, runs, dense, lambda k: contextlib.nullcontext(),
                                 settings, log)
    return rows


def _batch_free_rows(case: Case, name: str, runs: dict, dense: float | None,
                     wrap: Callable[[str], object], settings: Settings,
                     log: Callable[[str], None]) -> list[dict]:
    """Time `runs` interleaved; rows of measure `name` at batch 0 (it does not depend on the
    batch), with the ratio to `dense` seconds (empty without)."""
    samples = measure.time_interleaved(runs, settings.rounds, settings.budget_s,
                                       settings.min_calls, settings.max_calls, wrap)
    rows = []
    for label, values in samples.items():
        seconds = measure.median(values)
        rows.append(dict(layer=case.name, model=label, batch=0, measure=name,
                         seconds=seconds, ratio_to_dense=_ratio(seconds, dense)))
        ratio = f"  x{_ratio(seconds, dense):.2f} of a dense step" if dense else ""
        log(f"{case.name} {name:14s} {label:22s} {1e3 * seconds:9.3f} ms{ratio}")
    return rows


def _flops(case: Case, modules: dict, batch: int) -> list[dict]:
    rows = []
    dense = {}
    for label, module in modules.items():
        x1 = cases.make_inputs(case, module, 1).x
        shapes = flops.layer_shapes(module, x1, network=case.layer is None)
        stored = sum(p.numel() for p in module.parameters())
        counted = flops.counted_by_torch(shapes, batch)
        torch_flops = flops.torch_count(module, cases.make_inputs(case, module, batch).x)
        for step in (False, True):
            f = flops.count(shapes, batch, stored, step)
            key = "step" if step else "forward"
            if label == "dense":
                dense[key] = f.total
            rows.append(dict(layer=case.name, model=label, batch=batch, **{"pass": key},
                             matmul=f.matmul, reconstruction=f.reconstruction,
                             optimizer=f.optimizer, total=f.total, gathers=f.gathers, tanh=f.tanh,
                             ratio_to_dense=_ratio(f.total, dense.get(key)),
                             analytic_counted=counted, flop_counter=torch_flops))
    return rows


def _memory(case: Case, modules: dict, backends: dict, batch: int) -> list[dict]:
    rows, dense = [], None
    for label, module in modules.items():
        inputs = cases.make_inputs(case, module, batch)
        with native.use_backend(backends[label]):
            peak = measure.peak_train_bytes(case, module, inputs, measure.make_optimizer(module))
        dense = peak if label == "dense" else dense
        rows.append(dict(layer=case.name, model=label, batch=batch, quantity="peak_train",
                         bytes=peak, ratio_to_dense=_ratio(peak, dense)))
    return rows


def _stored(case: Case, modules: dict) -> list[dict]:
    """Stored index bytes and, for a whole network, stored parameter bytes (batch 0: they do not
    depend on the batch). A single layer of a shared-space model reads the whole network's w,
    so its parameters are not the layer's share and are not listed."""
    rows, dense = [], None
    for label, module in modules.items():
        if case.layer is None:
            params = sum(p.nbytes for p in module.parameters())
            dense = params if label == "dense" else dense
            rows.append(dict(layer=case.name, model=label, batch=0, quantity="stored_params",
                             bytes=params, ratio_to_dense=_ratio(params, dense)))
        rows.append(dict(layer=case.name, model=label, batch=0, quantity="stored_indices",
                         bytes=measure.index_bytes(module), ratio_to_dense=float("nan")))
    return rows


def _write(out_dir: Path, times: list[dict], flop_rows: list[dict], memory_rows: list[dict],
           meta: dict) -> None:
    report.write_csv(out_dir / "summary.csv", times, report.SUMMARY_COLUMNS)
    if flop_rows:
        report.write_csv(out_dir / "flops.csv", flop_rows, report.FLOPS_COLUMNS)
    if memory_rows:
        report.write_csv(out_dir / "memory.csv", memory_rows, report.MEMORY_COLUMNS)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    render(out_dir, with_extras=bool(flop_rows and memory_rows))


def render(out_dir: Path, with_extras: bool | None = None) -> None:
    """summary.md (and cost.png, when there are reconstruction rows) from the CSVs and
    meta.json in `out_dir`; `with_extras` None: use flops.csv and memory.csv if they exist."""
    meta = json.loads((out_dir / "meta.json").read_text())
    titles = {name: case.title for name, case in CASES.items()}
    sections = ["# Cost of dense, HashedNets and MFH layers", "",
                f"Generated by `scripts/bench.py` ({meta['threads']} threads, {meta['cpu']}, "
                f"torch {meta['torch']}, backend {meta['backend']}, started {meta['started']}). "
                "Cells: median time (ratio to dense in the same run).", ""]
    summary = report.read_csv(out_dir / "summary.csv")
    if with_extras is None:
        with_extras = (out_dir / "flops.csv").exists() and (out_dir / "memory.csv").exists()
    flop_csv = report.read_csv(out_dir / "flops.csv") if with_extras else []
    memory_csv = report.read_csv(out_dir / "memory.csv") if with_extras else []
    if flop_csv and memory_csv:
        sections += ["## Headline: ratios to dense", "",
                     report.headline_table(summary, flop_csv, memory_csv, titles), ""]
    if any(r["layer"] == report.TARGET_LAYER for r in summary):
        sections += [f"## Targets (issue 14): {titles[report.TARGET_LAYER]}, batch 50", "",
                     "Step floor: (dense forward + dense backward + access_floor) / dense step, "
                     "all measured in this run; the verdict is on it. Step floor with g adds "
                     "g_floor, g's arithmetic alone (forward and backward once per virtual "
                     "weight, inputs in L1).", "", report.targets_table(summary), ""]
    for name in dict.fromkeys(r["layer"] for r in summary):
        sections += [f"## {titles[name]}", "", report.time_table(summary, name), ""]
    if flop_csv:
        sections += ["# FLOPs of one training step (batch 50)", ""]
        for name in dict.fromkeys(r["layer"] for r in flop_csv):
            sections += [f"## {titles[name]}", "", report.flops_table(flop_csv, name, 50), ""]
    if memory_csv:
        sections += ["# Memory", ""]
        for name in dict.fromkeys(r["layer"] for r in memory_csv):
            sections += [f"## {titles[name]}", "", report.memory_table(memory_csv, name), ""]
    if any(r["measure"] == "reconstruction" for r in summary):
        report.figure(summary, out_dir / "cost.png", titles)
    (out_dir / "summary.md").write_text("\n".join(sections))
