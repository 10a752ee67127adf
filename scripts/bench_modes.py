"""Portable against native numerics, `make bench-quick` alternated (issue 26's target).

    python scripts/bench_modes.py [--repeat 5] [--out /tmp/mfh-bench-modes]

Runs `scripts/bench.py --quick` (what `make bench-quick` runs) `--repeat` times in each
numerics mode, alternating native and portable (each run a fresh process, into
OUT/<mode>/run-K; the first mode alternates too), then prints and writes OUT/modes.md: per
model and measure, the median over the alternations of (portable / native) of the pair's
median times, with the range. Issue 26's target: U4-G3 and U4-G3-D steps within 1.1x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this checkout's mfh

from mfh.cost import report  # noqa: E402

MODES = ("native", "portable")
SPIN = "20000"   # the Makefile's BENCH_SPIN


def run_pair(k: int, out: Path) -> None:
    order = MODES if k % 2 else MODES[::-1]
    for mode in order:
        print(f"alternation {k}: {mode}", flush=True)
        env = {**os.environ, "MFH_NUMERICS": mode, "GOMP_SPINCOUNT": SPIN}
        subprocess.run([sys.executable, "scripts/bench.py", "--quick", "--out",
                        str(out / mode / f"run-{k}")], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)


def table(out: Path, repeat: int) -> str:
    """Markdown: portable / native per (model, measure), median [min-max] over alternations."""
    ratios: dict[tuple[str, str], list[float]] = {}
    for k in range(1, repeat + 1):
        rows = {mode: {(r["model"], r["measure"]): float(r["seconds"]) for r in
                       report.read_csv(out / mode / f"run-{k}" / "summary.csv")}
                for mode in MODES}
        for key, native in rows["native"].items():
            if key in rows["portable"]:
                ratios.setdefault(key, []).append(rows["portable"][key] / native)
    lines = [f"portable / native, `make bench-quick` (3-layer net, batch 50), {repeat} "
             "alternations: median [min-max]", "",
             "| model | measure | portable / native |", "|---|---|---:|"]
    for (model, measure), values in sorted(ratios.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        lines.append(f"| {model} | {measure} | {statistics.median(values):.2f} "
                     f"[{min(values):.2f}-{max(values):.2f}] |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mfh-bench-modes"))
    parser.add_argument("--render", action="store_true", help="only tabulate the runs in --out")
    args = parser.parse_args()
    if not args.render:
        for k in range(1, args.repeat + 1):
            run_pair(k, args.out)
    text = table(args.out, args.repeat)
    (args.out / "modes.md").write_text(f"# Portable against native numerics\n\n`python "
                                       f"scripts/bench_modes.py --repeat {args.repeat}`\n\n"
                                       f"{text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
