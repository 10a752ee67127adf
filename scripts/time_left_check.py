"""How good was a sweep's time-left estimate? Reads a log of `scripts/time_sweep.sh` (each
line prefixed with the Unix time it was printed) and compares, at each job's progress line
("job k/N, about X left in the sweep"), the estimate with the time the sweep then took.

    python scripts/time_left_check.py /tmp/mfh-sweeptime/log-<arm>.txt [--min-left 60]
        [--replay "<the sweep's run.py arguments>" [--parallel 2]]

Prints one row per job and the range of estimate / actual over the jobs with at least
`--min-left` seconds still to run (the issue's target: within a factor of 1.5). `--replay`
also predicts the sweep's jobs with this checkout's estimator (mfh/harness/estimate.py, timed
now, on this machine) and says what it would have printed at each job's logged start.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

LINE = re.compile(r"^(\d+) job (\d+)/(\d+), about ([\d.]+) (s|min|h) left in the sweep")
UNIT = {"s": 1, "min": 60, "h": 3600}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--min-left", type=float, default=60.0)
    parser.add_argument("--replay", help="the sweep's run.py arguments, quoted")
    parser.add_argument("--parallel", type=int, default=1, help="jobs at a time (replay)")
    args = parser.parse_args()
    lines = args.log.read_text().splitlines()
    end = int(lines[-1].split()[0])
    rows = []
    for line in lines:
        match = LINE.match(line)
        if match:
            when, job, total, value, unit = match.groups()
            rows.append((int(job), int(total), float(value) * UNIT[unit], end - int(when)))
    if not rows:
        print(f"no progress lines with a time left in {args.log}", file=sys.stderr)
        return 1
    start = end - rows[0][3]   # the first job's start stands for the sweep's
    replayed = replay(args.replay, rows, start, args.parallel) if args.replay else None
    print("| job | estimated left (s) | actual left (s) | estimate / actual |"
          + (" replayed estimate / actual |" if replayed else ""))
    print("|---:|---:|---:|---:|" + ("---:|" if replayed else ""))
    for k, (job, total, estimate, actual) in enumerate(rows):
        ratio = f"{estimate / actual:.2f}" if actual else "-"
        again = f" {replayed[k] / actual:.2f} |" if replayed and actual else (" - |" if
                                                                              replayed else "")
        print(f"| {job}/{total} | {estimate:.0f} | {actual} | {ratio} |{again}")
    summarise("logged", [(e, a) for _, _, e, a in rows], args.min_left)
    if replayed:
        summarise("replayed", [(r, row[3]) for r, row in zip(replayed, rows, strict=True)],
                  args.min_left)
    return 0


def replay(argv: str, rows: list, start: int, parallel: int) -> list[float]:
    """What this checkout's estimator says at each logged job start."""
    from mfh import numerics

    numerics.apply([])
    from mfh.harness.config import precheck
    from mfh.harness.estimate import job_costs, seconds_left

    sweep = precheck(["-m", *shlex.split(argv)])
    if sweep.configs is None or sweep.jobs != rows[0][1]:
        raise SystemExit(f"the arguments make {sweep.jobs} jobs, the log {rows[0][1]}")
    costs = job_costs(sweep.configs)
    end = start + rows[0][3]
    return [seconds_left(costs, job - 1, (end - actual) - start, parallel)
            for job, _, _, actual in rows]


def summarise(name: str, pairs: list[tuple[float, float]], min_left: float) -> None:
    ratios = [e / a for e, a in pairs if a >= min_left]
    if ratios:
        print(f"\n{name}: estimate / actual over the {len(ratios)} jobs with at least "
              f"{min_left:.0f} s left: {min(ratios):.2f} to {max(ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
