"""How good was a sweep's time-left estimate? Reads a log of `scripts/time_sweep.sh` (each
line prefixed with the Unix time it was printed) and compares, at each job's progress line
("job k/N, about X left in the sweep"), the estimate with the time the sweep then took.

    python scripts/time_left_check.py /tmp/mfh-sweeptime/log-<arm>.txt [--min-left 60]

Prints one row per job and the range of estimate / actual over the jobs with at least
`--min-left` seconds still to run (the issue's target: within a factor of 1.5).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LINE = re.compile(r"^(\d+) job (\d+)/(\d+), about ([\d.]+) (s|min|h) left in the sweep")
UNIT = {"s": 1, "min": 60, "h": 3600}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--min-left", type=float, default=60.0)
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
    print("| job | estimated left (s) | actual left (s) | estimate / actual |")
    print("|---:|---:|---:|---:|")
    for job, total, estimate, actual in rows:
        ratio = f"{estimate / actual:.2f}" if actual else "-"
        print(f"| {job}/{total} | {estimate:.0f} | {actual} | {ratio} |")
    ratios = [e / a for _, _, e, a in rows if a >= args.min_left]
    if ratios:
        print(f"\nestimate / actual over the {len(ratios)} jobs with at least {args.min_left:.0f} s"
              f" left: {min(ratios):.2f} to {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
