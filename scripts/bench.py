"""Cost benchmark: `python scripts/bench.py [--quick] [--out DIR] [--threads N] [--render]
[--repeat N]`.

Full (`make bench`): fc1, fc2, conv and the whole 3-layer net at batch 1, 50, 256, every model
row, times + FLOPs + memory + figure into results/cost. Quick (`make bench-quick`): the whole
3-layer net at batch 50, five models, step and inference_cached, summary.csv only.
`--repeat N`: N runs into DIR/run-1 .. run-N, then the spread of issue 14's ratios over them
(DIR/spread.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply([])   # MFH_NUMERICS=portable pins the back-ends before torch starts

from mfh.cost import report  # noqa: E402
from mfh.cost.bench import Settings, quick_settings, render, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick subset")
    parser.add_argument("--out", type=Path, default=Path("results/cost"), help="output folder")
    parser.add_argument("--threads", type=int, default=2, help="torch and kernel threads")
    parser.add_argument("--calls", type=int, default=None,
                        help="timed calls per model and round (default: adaptive); 1 for a "
                             "smoke test")
    parser.add_argument("--render", action="store_true",
                        help="time nothing: rewrite summary.md and cost.png from the CSVs and "
                             "meta.json already in --out")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs in a row (into --out/run-K) and the spread of the targets")
    args = parser.parse_args()
    if args.render:
        render(args.out)
        return
    settings = quick_settings() if args.quick else Settings()
    settings.threads = args.threads
    if args.calls is not None:
        settings.min_calls = settings.max_calls = args.calls
        settings.rounds = 1
    if args.repeat == 1:
        run(settings, args.out)
        return
    outs = [args.out / f"run-{k}" for k in range(1, args.repeat + 1)]
    for k, out in enumerate(outs, 1):
        print(f"run {k} of {args.repeat}", flush=True)
        run(settings, out)
    spread = report.targets_spread([report.read_csv(out / "summary.csv") for out in outs])
    (args.out / "spread.md").write_text(f"# Issue 14's targets over {args.repeat} runs\n\n"
                                        f"{spread}\n")
    print(f"spread over {args.repeat} runs:\n{spread}")


if __name__ == "__main__":
    main()
