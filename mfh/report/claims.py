"""The paper's claims as paired comparisons, computed from records, with a verdict by a rule.

A layout lists claims, each a family of comparisons "A < B" (A's test error is claimed lower
than B's). Per claim and dataset, every comparison is paired by seed (`stats.paired`), its
t-test p-values are Holm-adjusted within the claim, and the claim gets the verdict of RULE.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mfh.report.stats import Paired, holm, paired

ALPHA = 0.05
RULE = (
    "Verdict per claim and dataset, from the paired t-test over seeds (runs with one seed share "
    "the split and the batch order), Holm-adjusted within the claim: **supported** when every "
    f"comparison goes the claimed way with adjusted p < {ALPHA}; **contradicted** when one goes "
    f"against it with adjusted p < {ALPHA}; **inconclusive** otherwise. The exact sign-flip "
    "p is shown beside it but does not decide: with n seeds its smallest value is 2 / 2^n "
    "(0.0625 for n = 5), so it cannot reach 0.05 below 6 seeds. Differences are A - B in "
    "test-error points; negative means A is better."
)


@dataclass(frozen=True)
class Comparison:
    """"A < B": configuration label `better` is claimed to have lower test error than `worse`."""

    better: str
    worse: str

    @staticmethod
    def parse(text: str) -> Comparison:
        better, sep, worse = (part.strip() for part in text.partition("<"))
        if not sep or not better or not worse:
            raise ValueError(f"comparison {text!r}: expected 'A < B'")
        return Comparison(better, worse)

    def __str__(self) -> str:
        return f"{self.better} < {self.worse}"


@dataclass(frozen=True)
class Claim:
    """A named family of comparisons. A claim written with `primary:` (and `secondary:`)
    comparisons is decided by `mfh.report.decide` (`decided`); one written with
    `comparisons:` by RULE here, per dataset (the layouts from before issue 27)."""

    name: str
    comparisons: tuple[Comparison, ...]
    secondary: tuple[Comparison, ...] = ()
    decided: bool = False


@dataclass(frozen=True)
class Row:
    """One comparison of one claim on one dataset (`result` None: a side has < 2 seeds)."""

    claim: str
    dataset: str
    comparison: Comparison
    result: Paired | None
    p_holm: float | None
    verdict: str


def parse_claims(items: Iterable[dict]) -> tuple[Claim, ...]:
    """Claims from a layout's `claims:` list: {name, primary: ["A < B", ...], secondary: [...]}
    or (the earlier form) {name, comparisons: [...]}; one layout uses one form."""
    claims = []
    for item in items:
        key = "primary" if isinstance(item, dict) and "primary" in item else "comparisons"
        if not isinstance(item, dict) or "name" not in item or key not in item:
            raise ValueError("every claim needs a name and a list of primary comparisons "
                             "'A < B'")
        claims.append(Claim(str(item["name"]), tuple(Comparison.parse(c) for c in item[key]),
                            tuple(Comparison.parse(c) for c in item.get("secondary", ())),
                            decided=key == "primary"))
    if len({c.decided for c in claims}) > 1:
        raise ValueError("claims mix `primary:` and `comparisons:`; use one form")
    return tuple(claims)


def unknown_labels(claims: Iterable[Claim], labels: set[str]) -> list[str]:
    """The labels the claims compare that are not among `labels` (a layout's rows)."""
    named = {x for c in claims for comp in (*c.comparisons, *c.secondary)
             for x in (comp.better, comp.worse)}
    return sorted(named - labels)


def errors_by_seed(entries: Iterable[tuple[str, str, dict]]) -> dict[tuple[str, str],
                                                                      dict[int, float]]:
    """{(label, dataset): {seed: test error}} of the ok records among (label, dataset, record)."""
    found: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for label, dataset, record in entries:
        if record["status"] == "ok":
            found[(label, dataset)][record["seed"]] = float(record["metrics"]["test_error"])
    return dict(found)


def verdict(results: list[tuple[Paired | None, float | None]]) -> str:
    """RULE applied to the (paired result, Holm-adjusted p) of one claim's comparisons."""
    if any(r is None for r, _ in results):
        return "inconclusive"
    if any(r.mean > 0 and p < ALPHA for r, p in results):
        return "contradicted"
    if all(r.mean < 0 and p < ALPHA for r, p in results):
        return "supported"
    return "inconclusive"


def evaluate(claims: Iterable[Claim], datasets: Iterable[str],
             errors: dict[tuple[str, str], dict[int, float]]) -> list[Row]:
    """Every comparison of every claim on every dataset, with the claim's verdict."""
    rows = []
    for claim in claims:
        for dataset in datasets:
            results: list[Paired | None] = []
            for c in claim.comparisons:
                a, b = errors.get((c.better, dataset), {}), errors.get((c.worse, dataset), {})
                results.append(paired(a, b) if len(a.keys() & b.keys()) >= 2 else None)
            present = [r.p_t for r in results if r is not None]
            adjusted = iter(holm(present))
            p_holm = [None if r is None else next(adjusted) for r in results]
            decided = verdict(list(zip(results, p_holm, strict=True)))
            rows += [Row(claim.name, dataset, c, r, p, decided)
                     for c, r, p in zip(claim.comparisons, results, p_holm, strict=True)]
    return rows


def _cells(row: Row) -> list[str]:
    r = row.result
    if r is None:
        return [str(row.comparison), "", "–", "–", "–", "–", "–"]
    return [str(row.comparison), str(r.n), f"{r.mean:+.2f}", f"{r.se:.2f}", f"{r.p_t:.3f}",
            f"{row.p_holm:.3f}", f"{r.p_perm:.3f}"]


HEADER = ["claim", "dataset", "comparison (A < B)", "n", "A - B", "paired SE", "p (t)",
          "p (t, Holm)", "p (sign-flip)", "verdict"]


def to_markdown(rows: list[Row], budget: str = "") -> str:
    """The rule, the budget, then one line per comparison; the verdict on each claim's lines."""
    out = [RULE, ""] + ([budget, ""] if budget else [])
    out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * 3 + "---:|" * 6 + "---|"]
    for row in rows:
        out.append("| " + " | ".join([row.claim, row.dataset, *_cells(row),
                                      f"**{row.verdict}**"]) + " |")
    return "\n".join(out) + "\n"


def to_csv(rows: list[Row]) -> str:
    """One line per comparison, full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["claim", "dataset", "better", "worse", "n", "difference", "se", "p_t",
                     "p_t_holm", "p_sign_flip", "verdict"])
    for row in rows:
        r = row.result
        values = ["", "", "", "", "", ""] if r is None else [r.n, r.mean, r.se, r.p_t,
                                                             row.p_holm, r.p_perm]
        writer.writerow([row.claim, row.dataset, row.comparison.better, row.comparison.worse,
                         *values, row.verdict])
    return buffer.getvalue()


def write_claims(rows: list[Row], out_dir: str | Path, name: str, budget: str = "") -> list[Path]:
    """Write `<out_dir>/<name>_claims.md` and `.csv`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}_claims.md", out_dir / f"{name}_claims.csv"]
    paths[0].write_text(to_markdown(rows, budget))
    paths[1].write_text(to_csv(rows))
    return paths
