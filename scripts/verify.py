"""Rerun committed records from their own configuration and seed; report how each compares.

    python scripts/verify.py [--results-dir results] [--sample 3 | --all] [--threads N] [RECORD ...]
    python scripts/verify.py --results-dir DIR --against results   # compare, no rerun

Per record: bit-identical, rounding (same error rates, training loss within 1e-5) or different
(with the first epoch where the curves part), and whether this machine is expected to reproduce
it bit for bit (portable numerics anywhere; native numerics on the CPU model that made it).
Each record is rerun in a child process started in the record's numerics mode. A sample is the
shortest records (fewest epochs x examples) first. Exits 1 if a record expected to reproduce
differs. `--against DIR` reruns nothing: it compares every record under --results-dir with the
record of the same configuration and seed under DIR (e.g. a fresh sweep against the committed
results) and exits 1 if one differs or is missing there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

if __name__ == "__main__" and "--child" in sys.argv:
    numerics.apply([])   # the record's mode, from MFH_NUMERICS, before torch starts


def child(record_path: Path, out: Path, threads: int | None) -> int:
    """Rerun one record into `out`; write the new record to stdout."""
    from mfh.harness.records import read_record
    from mfh.harness.verify import rerun

    new = rerun(read_record(record_path), out, threads)
    print(json.dumps(new))
    return 0


def against(results: Path, reference: Path) -> int:
    """Compare every record under `results` with its namesake under `reference`; 1 if one
    differs or is missing."""
    from collections import Counter

    from mfh.harness.records import read_record
    from mfh.harness.verify import compare

    counts: Counter[str] = Counter()
    for path in sorted(results.glob("runs/*/seed=*.json")):
        other = reference / path.relative_to(results)
        new = read_record(path)
        status = compare(read_record(other), new).status if other.exists() else "missing"
        counts[status] += 1
        if status != "bit-identical":
            print(f"{new['label']} seed={new['seed']} {path.parent.name}: {status}")
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no records",
          f"(under {results}, against {reference})")
    return 1 if set(counts) - {"bit-identical", "rounding"} or not counts else 0


def cost(path: Path) -> int:
    """A record's size of work: epochs x training examples (for choosing a quick sample)."""
    config = json.loads(path.read_text())["config"]
    return config["epochs"] * (config.get("train_limit") or 10**6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", type=Path, help="record files (default: a sample)")
    parser.add_argument("--results-dir", default=str(ROOT / "results"))
    parser.add_argument("--sample", type=int, default=3, help="how many records (default 3)")
    parser.add_argument("--all", action="store_true", help="every record under --results-dir")
    parser.add_argument("--threads", type=int, help="torch threads of the reruns (default: a "
                        "native record's own, portable mode's default); portable numbers do not "
                        "depend on it")
    parser.add_argument("--against", type=Path, help="compare with the records under this "
                        "results folder instead of rerunning")
    parser.add_argument("--child", nargs=2, metavar=("RECORD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(Path(args.child[0]), Path(args.child[1]), args.threads)
    if args.against:
        return against(Path(args.results_dir), args.against)
    from mfh.harness.records import read_record
    from mfh.harness.verify import compare, expected, record_mode

    paths = args.records or sorted(Path(args.results_dir).glob("runs/*/seed=*.json"), key=cost)
    if not args.records and not args.all:
        paths = paths[:args.sample]
    failures = 0
    for path in paths:
        old = read_record(path)
        start = time.time()
        with tempfile.TemporaryDirectory() as out:
            env = {**os.environ, numerics.ENV: record_mode(old)}
            threads = [] if args.threads is None else ["--threads", str(args.threads)]
            proc = subprocess.run([sys.executable, __file__, "--child", str(path), out, *threads],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{path}: rerun failed: {proc.stderr.strip().splitlines()[-1:]}")
            failures += 1
            continue
        new = json.loads(proc.stdout.strip().splitlines()[-1])
        verdict = compare(old, new)
        should, why = expected(old, args.threads)
        where = f", curves part at epoch {verdict.epoch}" if verdict.epoch else ""
        note = "" if should or verdict.status == "bit-identical" else " (not expected to match)"
        print(f"{old['label']} seed={old['seed']} {path.parent.name}: {verdict.status}{where}; "
              f"{why}{note} [{time.time() - start:.0f} s]", flush=True)
        failures += should and verdict.status == "different"
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
