"""Claims that can be decided: a primary comparison per claim, pooled over datasets, Holm over
the claims, an equivalence verdict, the probability of improvement, and the seeds it takes.

A claim (layout `claims:` with `primary:` and `secondary:` comparisons "A < B") is decided by
its primary comparisons only; the secondary ones are reported as supporting evidence. RULE is
the rule, written into every claims file; `margin` (points of test error) comes from the
layout, set before the runs.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from mfh.report.claims import Claim, Comparison
from mfh.report.stats import (
    holm,
    one_sided_p,
    prob_improvement_ci,
    seeds_for_power,
    stratified,
    tost_p,
)

ALPHA = 0.05
POWER, DETECT = 0.8, 0.5   # the power statement: seeds to detect DETECT points with POWER

RULE = (
    "Rule, fixed before the runs. Each comparison 'A < B' is the paired difference A - B of "
    "test error (points; negative: A better) over the seeds both have, seed s on its own split "
    "(data_seed = seed). **Pooled** over the datasets where both ran it is the mean of the "
    "per-dataset mean "
    "differences (each dataset weighs the same: the datasets are the benchmark, not a sample "
    "of one, so a fixed-effect, stratified test answers 'on these datasets'; a random-effects "
    "model would need more than a handful of datasets to estimate their spread), with SE "
    "sqrt(sum SE_i^2) / k and a t-test on sum(n_i - 1) degrees of freedom; Cochran's Q says "
    "whether the datasets disagree. A claim is decided by its **primary** comparisons "
    "(intersection-union: its p is the largest of theirs), Holm-adjusted over the claims (per "
    f"dataset: over the claims on that dataset). **supported**: adjusted one-sided p < "
    f"{ALPHA / 2} (a two-sided test at {ALPHA}) that every primary difference is below 0; "
    f"**contradicted**: adjusted one-sided p < {ALPHA / 2} that some primary difference is "
    "above 0 (Bonferroni over the claim's primary comparisons); **equivalent within "
    "+-{margin}**: neither, and the two one-sided tests (Schuirmann) put every primary "
    f"difference within +-margin (adjusted p < {ALPHA}, i.e. the 90% interval inside); "
    "**inconclusive** otherwise; **not run** where a primary comparison lacks two shared "
    "seeds (a row the column leaves out), and such a claim is left out of that Holm family. "
    "P(A < B): the share of (A run, B run) pairs where A's error is lower (ties half), "
    "averaged over datasets, with a 95% stratified "
    f"bootstrap interval (2,000 resamples, seeded). Seeds for {POWER:.0%} power: the fewest "
    f"seeds at which a two-sided paired t-test at {ALPHA} detects a {DETECT}-point difference, "
    "given the paired SD measured here (pooled: seeds on each dataset, for the stratified test "
    "at the root mean square of the datasets' SDs)."
)


@dataclass(frozen=True)
class Effect:
    """One comparison on one dataset or pooled (`dataset` "pooled")."""

    claim: str
    dataset: str
    comparison: Comparison
    primary: bool
    n: int
    mean: float
    se: float
    df: int
    p_better: float    # one-sided: the difference is below 0
    p_worse: float     # one-sided: the difference is above 0
    p_tost: float
    p_improve: float
    p_improve_ci: tuple[float, float]
    sd: float          # paired SD of the differences (pooled: root mean square over datasets)
    heterogeneity_p: float | None = None   # Cochran's Q p (pooled only)
    strata: int = 1    # datasets pooled (those where both sides ran)


@dataclass(frozen=True)
class Verdict:
    claim: str
    dataset: str
    verdict: str
    p_supported: float     # Holm-adjusted over the claims
    p_contradicted: float
    p_equivalent: float


def _effect(claim: Claim, dataset: str, comparison: Comparison, primary: bool,
            pairs: list[tuple[dict[int, float], dict[int, float]]], margin: float) -> Effect | None:
    """The effect over the strata (datasets) of `pairs` where both sides share >= 2 seeds;
    None if there is none, or, pooled, fewer than 2."""
    strata = []
    for a, b in pairs:
        seeds = sorted(a.keys() & b.keys())
        if len(seeds) >= 2:
            strata.append(([a[s] for s in seeds], [b[s] for s in seeds]))
    if not strata or (dataset == "pooled" and len(strata) < 2):
        return None
    pooled = stratified([[x - y for x, y in zip(a, b, strict=True)] for a, b in strata])
    p, low, high = prob_improvement_ci(strata)
    n = sum(len(a) for a, _ in strata)
    sds = [statistics.stdev([x - y for x, y in zip(a, b, strict=True)]) for a, b in strata]
    sd = math.sqrt(statistics.fmean(v * v for v in sds))
    return Effect(claim.name, dataset, comparison, primary, n, pooled.mean, pooled.se,
                  pooled.df, one_sided_p(pooled.mean, pooled.se, pooled.df),
                  one_sided_p(-pooled.mean, pooled.se, pooled.df),
                  tost_p(pooled.mean, pooled.se, pooled.df, margin), p, (low, high), sd,
                  pooled.p_q if len(strata) > 1 else None, len(strata))


def effects(claims: tuple[Claim, ...], datasets: tuple[str, ...],
            errors: dict[tuple[str, str], dict[int, float]], margin: float) -> list[Effect]:
    """Every comparison of every claim on every dataset, then pooled over the datasets where
    both sides ran (at least 2: a full-size column may run only some rows)."""
    found = []
    for claim in claims:
        for primary, comparisons in ((True, claim.comparisons), (False, claim.secondary)):
            for c in comparisons:
                pairs = {d: (errors.get((c.better, d), {}), errors.get((c.worse, d), {}))
                         for d in datasets}
                for d in datasets:
                    found.append(_effect(claim, d, c, primary, [pairs[d]], margin))
                if len(datasets) > 1:
                    found.append(_effect(claim, "pooled", c, primary, list(pairs.values()),
                                         margin))
    return [e for e in found if e is not None]


def verdicts(claims: tuple[Claim, ...], found: list[Effect]) -> list[Verdict]:
    """Each claim's verdict per dataset and pooled, by RULE (Holm over the claims that have
    every primary comparison there; a claim missing one is "not run" there)."""
    out = []
    for dataset in dict.fromkeys(e.dataset for e in found):
        decided, missing = {}, []
        for claim in claims:
            primary = [e for e in found if e.claim == claim.name and e.dataset == dataset
                       and e.primary]
            if len(primary) != len(claim.comparisons):
                missing.append(claim.name)
                continue
            decided[claim.name] = [max(e.p_better for e in primary),
                                   min(e.p_worse for e in primary) * len(primary),
                                   max(e.p_tost for e in primary)]
        names = list(decided)
        adjusted = [holm([decided[n][k] for n in names]) for k in range(3)]
        for i, name in enumerate(names):
            sup, con, equ = (min(1.0, adjusted[k][i]) for k in range(3))
            verdict = ("supported" if sup < ALPHA / 2 else "contradicted" if con < ALPHA / 2
                       else "equivalent" if equ < ALPHA else "inconclusive")
            out.append(Verdict(name, dataset, verdict, sup, con, equ))
        out += [Verdict(n, dataset, "not run", 1.0, 1.0, 1.0) for n in missing]
    return out


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def to_markdown(found: list[Effect], decided: list[Verdict], margin: float,
                budget: str = "") -> str:
    """The rule, the budget, the verdicts, then every effect."""
    out = [RULE.format(margin=margin), ""] + ([budget, ""] if budget else [])
    out += ["| claim | dataset | verdict | p supported | p contradicted | p equivalent |",
            "|---|---|---|---:|---:|---:|"]
    for v in decided:
        label = f"equivalent within ±{margin:g}" if v.verdict == "equivalent" else v.verdict
        ps = ["–"] * 3 if v.verdict == "not run" else \
            [_p(v.p_supported), _p(v.p_contradicted), _p(v.p_equivalent)]
        out.append(f"| {v.claim} | {v.dataset} | **{label}** | {' | '.join(ps)} |")
    out += ["", "| claim | comparison (A < B) | role | dataset | n | A - B | SE | p (A better) | "
            f"p (within ±{margin:g}) | P(A < B) [95% CI] | seeds for {POWER:.0%} power "
            f"at {DETECT} |", "|---|---|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for e in found:
        n = seeds_for_power(e.sd, DETECT, strata=e.strata)
        power = "> 1000" if n is None else str(n) if e.strata == 1 else f"{n} per dataset"
        hetero = "" if e.heterogeneity_p is None else \
            f" ({e.strata} datasets, Q p {_p(e.heterogeneity_p)})"
        out.append(f"| {e.claim} | {e.comparison} | {'primary' if e.primary else 'secondary'}"
                   f" | {e.dataset}{hetero} | {e.n} | {e.mean:+.2f} | {e.se:.2f} | "
                   f"{_p(e.p_better)} | {_p(e.p_tost)} | {e.p_improve:.2f} "
                   f"[{e.p_improve_ci[0]:.2f}, {e.p_improve_ci[1]:.2f}] | {power} |")
    return "\n".join(out) + "\n"


def to_csv(found: list[Effect], decided: list[Verdict]) -> str:
    """One line per effect (full precision), its claim's verdict on that dataset."""
    verdict = {(v.claim, v.dataset): v.verdict for v in decided}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["claim", "dataset", "better", "worse", "role", "n", "difference", "se",
                     "df", "p_better", "p_worse", "p_tost", "p_improve", "p_improve_low",
                     "p_improve_high", "paired_sd", "heterogeneity_p", "verdict"])
    for e in found:
        writer.writerow([e.claim, e.dataset, e.comparison.better, e.comparison.worse,
                         "primary" if e.primary else "secondary", e.n, e.mean, e.se, e.df,
                         e.p_better, e.p_worse, e.p_tost, e.p_improve, *e.p_improve_ci,
                         e.sd,
                         "" if e.heterogeneity_p is None else e.heterogeneity_p,
                         verdict[(e.claim, e.dataset)]])
    return buffer.getvalue()


def write_decided(found: list[Effect], decided: list[Verdict], margin: float,
                  out_dir: str | Path, name: str, budget: str = "") -> list[Path]:
    """Write `<out_dir>/<name>_claims.md` and `.csv`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}_claims.md", out_dir / f"{name}_claims.csv"]
    paths[0].write_text(to_markdown(found, decided, margin, budget))
    paths[1].write_text(to_csv(found, decided))
    return paths
