"""How many seeds a layout's claims need, measured on a pilot's records (issue 27).

    python scripts/pilot_power.py [--layout experiments/table1.yaml]
        [--pilot results/archive/table1_5seed/table1_5seed.yaml] [--results-dir results]
        [--out results/archive/table1_5seed/pilot_power.md]

For every primary comparison "A < B" of `--layout`'s claims, the paired SD of A - B (test-error
points) over the pilot layout's seeds on each of its datasets, the seeds that detect a 0.5-point
difference with 80% power (two-sided paired t at 0.05), and the difference that `--layout`'s
seeds detect with that power: on that dataset alone, and pooled over the datasets where
`--layout` runs both rows (stratified test; SD: the root mean square of the pilot's
per-dataset SDs, the same SD assumed for a dataset the pilot lacks). Runs that did not train
well (mfh/harness/health.py: dead, plateau, diverged) are left out and counted: their cause is
an initialisation fixed since (issue 25), not seed noise. Reads records only; trains nothing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh.harness.health import health_status  # noqa: E402
from mfh.report.claims import errors_by_seed  # noqa: E402
from mfh.report.decide import DETECT, POWER  # noqa: E402
from mfh.report.stats import seeds_for_power  # noqa: E402
from mfh.report.tables import (  # noqa: E402
    layout_entries,
    load_layout,
    resolve_rows,
    row_datasets,
)

ROOT = Path(__file__).resolve().parents[1]


def _seeds(sd: float, strata: int = 1) -> str:
    n = seeds_for_power(sd, DETECT, power=POWER, strata=strata)
    return "> 1000" if n is None else str(n)


def _detectable(sd: float, seeds: int, strata: int = 1) -> float:
    """The smallest effect (points, to 0.05) found with POWER at `seeds` seeds per dataset."""
    effect = 0.05
    while seeds_for_power(sd, effect, power=POWER, strata=strata, most=seeds) is None:
        effect += 0.05
    return effect


def pilot_power(layout_path: Path, pilot_path: Path, results_dir: Path) -> str:
    """The markdown report (see the module docstring)."""
    layout, pilot = load_layout(layout_path), load_layout(pilot_path)
    entries = layout_entries(pilot, resolve_rows(pilot), results_dir)
    sick = [(label, d, r["seed"]) for label, d, r in entries
            if r["status"] == "ok" and health_status(r) != "ok"]
    errors = errors_by_seed((label, d, r) for label, d, r in entries
                            if r["status"] != "ok" or health_status(r) == "ok")
    n = len(layout.seeds)
    rows_on = {}   # label -> the columns of `layout` it runs on (labels need no recipe)
    for row in resolve_rows(replace(layout, recipe="")):
        rows_on[row.label] = set(row_datasets(layout, row.row))
    out = [f"# Seeds for {POWER:.0%} power at {DETECT} points: claims of {layout_path.name}, "
           f"pilot {pilot_path.name} ({len(pilot.seeds)} seeds, {', '.join(pilot.datasets)})",
           "", "Command: `python scripts/pilot_power.py " + " ".join(sys.argv[1:]) + "`", "",
           f"Left out (did not train well): {len(sick)} runs"
           + (": " + ", ".join(f"{lab} on {d} seed {s}" for lab, d, s in sick) if sick else "")
           + ".", "",
           f"| claim | primary comparison | dataset | pilot seeds | paired SD | seeds needed | "
           f"{POWER:.0%}-power effect at {n} seeds |", "|---|---|---|---:|---:|---:|---:|"]
    for claim in layout.claims:
        for c in claim.comparisons:
            sds = []
            for d in pilot.datasets:
                a, b = errors.get((c.better, d), {}), errors.get((c.worse, d), {})
                seeds = sorted(a.keys() & b.keys())
                if len(seeds) < 2:
                    continue
                sd = statistics.stdev(a[s] - b[s] for s in seeds)
                sds.append(sd)
                out.append(f"| {claim.name} | {c} | {d} | {len(seeds)} | {sd:.2f} | "
                           f"{_seeds(sd)} | {_detectable(sd, n):.2f} |")
            strata = len(rows_on.get(c.better, set()) & rows_on.get(c.worse, set()))
            if sds and strata > 1:
                rms = math.sqrt(statistics.fmean(sd * sd for sd in sds))
                out.append(f"| {claim.name} | {c} | pooled over {strata} | – | {rms:.2f} (rms) "
                           f"| {_seeds(rms, strata)} per dataset | "
                           f"{_detectable(rms, n, strata):.2f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default=str(ROOT / "experiments" / "table1.yaml"))
    parser.add_argument("--pilot", default=str(ROOT / "results" / "archive" / "table1_5seed"
                                               / "table1_5seed.yaml"))
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args(argv)
    report = pilot_power(Path(args.layout), Path(args.pilot), Path(args.results_dir))
    print(report, end="")
    if args.out:
        Path(args.out).write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
