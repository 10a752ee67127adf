"""The largest learning rate at which every seed trains, per model, architecture and variant.

    python scripts/lr_range.py [--experiment experiments/lr_range.yaml] [--results-dir results]
                               [--arch A ...] [--row LABEL ...] [logger=none numerics=portable ...]

Runs the search that experiments/lr_range.yaml describes, in this process, one ordinary record
per run under <results-dir>/experiments/<name>/runs (resumable: a finished record is read, not
rerun), then writes <results-dir>/health/<name>.md and .csv (every run tried: its rate, seed,
health). `--arch` / `--row` limit the search to some architectures or rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

numerics.apply(sys.argv[1:])   # MFH_NUMERICS or numerics=...: pin the back-ends before torch

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from mfh.harness.config import compose_config  # noqa: E402
from mfh.harness.health import record_health  # noqa: E402
from mfh.harness.records import read_record  # noqa: E402
from mfh.harness.runner import run  # noqa: E402
from mfh.harness.sweep import check_pass_through  # noqa: E402

FAILS = ("diverged", "dead")   # a plateau (slow first epochs, then it leaves) still trains


def search(exp: dict, arch: str, label: str, variant: str, variant_overrides: list[str],
           runs: Path, extra: list[str]) -> list[dict]:
    """The runs of one (arch, row, variant), rates from the largest down, each rate until its
    first seed that does not train (FAILS); one dict per run (lr, seed, health, epoch)."""
    overrides = [*exp["common"], *exp["rows"][label], f"arch={arch}",
                 f"dataset={exp['dataset']}", f"results_dir={runs}", *extra, *variant_overrides]
    tried = []
    for lr in exp["lrs"]:
        healthy = True
        for seed in exp["seeds"]:
            path, _ = run(compose_config([*overrides, f"optim.lr={lr}", f"seed={seed}"]),
                          progress=f"{label} {arch} {variant} lr={lr}")
            health = record_health(read_record(path))
            tried.append({"arch": arch, "label": label, "variant": variant, "lr": lr,
                          "seed": seed, "health": health["status"], "epoch": health["epoch"]})
            if health["status"] in FAILS:
                healthy = False
                break
        if healthy:
            break
    return tried


def summary(frame: pd.DataFrame, exp: dict, caption: str) -> str:
    """Markdown: the largest rate at which every seed trained, per (arch, row), one column per
    variant, with the first failure at the next larger rate."""
    variants = list(exp["variants"])
    lines = [caption, "", "| arch | model | " + " | ".join(f"step_scale {v}" for v in variants)
             + " |", "|---|---|" + "---:|" * len(variants)]
    for (arch, label), group in frame.groupby(["arch", "label"], sort=False):
        cells = []
        for variant in variants:
            runs = group[group["variant"] == variant]
            if runs.empty:
                cells.append("–")
                continue
            stable = [lr for lr, g in runs.groupby("lr", sort=False)
                      if len(g) == len(exp["seeds"]) and not g["health"].isin(FAILS).any()]
            failed = runs[runs["health"].isin(FAILS)]
            first = "" if failed.empty else (f" ({failed.iloc[-1]['health']} at "
                                             f"{failed.iloc[-1]['lr']:g}, seed "
                                             f"{failed.iloc[-1]['seed']})")
            cells.append((f"{stable[0]:g}" if stable else "none") + first)
        lines.append(f"| {arch} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="experiments/lr_range.yaml")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--arch", action="append", default=[])
    parser.add_argument("--row", action="append", default=[])
    parser.add_argument("overrides", nargs="*", help="pass-through overrides, e.g. logger=none")
    args = parser.parse_args(argv)
    try:
        check_pass_through(args.overrides)
    except ValueError as e:
        print(f"lr_range: {e}", file=sys.stderr)
        return 1
    path = Path(args.experiment)
    exp = yaml.safe_load(path.read_text())
    results_dir = Path(args.results_dir).resolve()
    runs = results_dir / "experiments" / path.stem
    tried = []
    for arch in args.arch or exp["archs"]:
        for label in args.row or exp["rows"]:
            # the variants are MFH's; any other row runs once, as variant "none"
            variants = exp["variants"] if "model=mfh" in exp["rows"][label] else {"none": []}
            for variant, variant_overrides in variants.items():
                tried += search(exp, arch, label, variant, variant_overrides, runs,
                                args.overrides)
    frame = pd.DataFrame(tried)
    out = results_dir / "health"
    out.mkdir(parents=True, exist_ok=True)
    text = summary(frame, exp, " ".join(str(exp["caption"]).split()))
    (out / f"{path.stem}.md").write_text(text)
    frame.to_csv(out / f"{path.stem}.csv", index=False)
    print(text)
    print(f"wrote {out / path.stem}.md, {out / path.stem}.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
