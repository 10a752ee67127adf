"""Execute the review notebook on a results folder and write it as HTML.

    python scripts/report.py [--results-dir results] [--out results/report.html]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh.report.notebook import execute, to_html  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--out", help="HTML file (default: <results-dir>/report.html)")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.results_dir) / "report.html"
    html = to_html(execute(Path(args.results_dir).resolve()))
    out.write_text(html)
    print(f"wrote {out} ({len(html) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
