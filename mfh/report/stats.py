"""Paired statistics over seeds: runs with one seed share the data split and the batch order,
so two configurations are compared seed by seed.

`paired(a, b)`: the mean difference a - b over the seeds both have, its standard error
(sample standard deviation of the differences / sqrt(n)), the paired t-test's two-sided p
(`scipy.stats.ttest_rel`) and the exact sign-flip permutation test's two-sided p (all 2^n sign
patterns of the differences; with n = 5 its smallest possible p is 2/32 = 0.0625). `holm`
adjusts the p-values of one family of comparisons (Holm 1979, step-down).

For claims that decide (`mfh.report.decide`): `stratified` pools paired differences over
datasets (each weighs the same; Cochran's Q for their disagreement), `tost_p` tests equivalence
within a margin, `one_sided_p` a direction, `prob_improvement(_ci)` is P(A < B) with a
stratified bootstrap interval, and `seeds_for_power` the seeds a paired t-test needs.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Paired:
    """a - b over n shared seeds: mean, standard error, t-test and sign-flip p (two-sided)."""

    mean: float
    se: float
    n: int
    p_t: float
    p_perm: float


def sign_flip_p(differences: list[float]) -> float:
    """Exact two-sided p of the sign-flip test: the share of the 2^n sign patterns whose
    |mean| is at least the observed |mean| (ties within 1e-12 count as at least)."""
    observed = abs(statistics.fmean(differences))
    hits = sum(abs(statistics.fmean(s * d for s, d in zip(signs, differences, strict=True)))
               >= observed - 1e-12
               for signs in itertools.product((1, -1), repeat=len(differences)))
    return hits / 2 ** len(differences)


def paired(a: dict[int, float], b: dict[int, float]) -> Paired:
    """a - b by seed over the seeds in both (at least 2)."""
    seeds = sorted(a.keys() & b.keys())
    if len(seeds) < 2:
        raise ValueError(f"a paired comparison needs at least 2 shared seeds, got {seeds}")
    x, y = [a[s] for s in seeds], [b[s] for s in seeds]
    d = [u - v for u, v in zip(x, y, strict=True)]
    se = statistics.stdev(d) / math.sqrt(len(d))
    p_t = 1.0 if se == 0 else float(stats.ttest_rel(x, y).pvalue)
    return Paired(statistics.fmean(d), se, len(d), p_t, sign_flip_p(d))


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: the k-th smallest times (m - k + 1), made
    non-decreasing, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Stratified:
    """a - b pooled over strata (datasets), each stratum's paired mean weighted equally:
    mean, standard error, degrees of freedom (sum of n_i - 1), two-sided t p, and the
    per-stratum means. Cochran's Q (and its p) says how much the strata disagree."""

    mean: float
    se: float
    df: int
    p_t: float
    strata: tuple[float, ...]
    q: float
    p_q: float


def stratified(differences: list[list[float]]) -> Stratified:
    """Pool per-stratum paired differences (each stratum >= 2 values): the mean of the strata's
    means, with variance sum(se_i^2) / k^2, tested with t on sum(n_i - 1) degrees of freedom."""
    if not differences or any(len(d) < 2 for d in differences):
        raise ValueError("every stratum needs at least 2 paired differences")
    k = len(differences)
    means = [statistics.fmean(d) for d in differences]
    variances = [statistics.variance(d) / len(d) for d in differences]
    mean = statistics.fmean(means)
    se = math.sqrt(sum(variances)) / k
    df = sum(len(d) - 1 for d in differences)
    p_t = 1.0 if se == 0 else float(2 * stats.t.sf(abs(mean) / se, df))
    if k > 1 and all(v > 0 for v in variances):
        weights = [1 / v for v in variances]
        fixed = sum(w * m for w, m in zip(weights, means, strict=True)) / sum(weights)
        q = sum(w * (m - fixed) ** 2 for w, m in zip(weights, means, strict=True))
        p_q = float(stats.chi2.sf(q, k - 1))
    else:
        q, p_q = 0.0, 1.0
    return Stratified(mean, se, df, p_t, tuple(means), q, p_q)


def tost_p(mean: float, se: float, df: int, margin: float) -> float:
    """Two one-sided tests of equivalence within +-margin (Schuirmann 1987): the larger of
    the p-values of mean > -margin and mean < +margin (t with df degrees of freedom)."""
    if se == 0:
        return 0.0 if abs(mean) < margin else 1.0
    lower = stats.t.sf((mean + margin) / se, df)
    upper = stats.t.cdf((mean - margin) / se, df)
    return float(max(lower, upper))


def one_sided_p(mean: float, se: float, df: int) -> float:
    """p of "the difference is below 0" against >= 0 (t, df degrees of freedom)."""
    if se == 0:
        return 0.0 if mean < 0 else 1.0
    return float(stats.t.cdf(mean / se, df))


def prob_improvement(a: list[float], b: list[float]) -> float:
    """P(A < B): the share of all (a_i, b_j) pairs with a_i < b_j, ties counting half (the
    Mann-Whitney estimate; `rliable`'s probability of improvement, lower error better)."""
    wins = sum((x < y) + 0.5 * (x == y) for x in a for y in b)
    return wins / (len(a) * len(b))


def prob_improvement_ci(strata: list[tuple[list[float], list[float]]], resamples: int = 2000,
                        seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """P(A < B) averaged over strata, and its percentile bootstrap interval: runs resampled
    with replacement within each stratum and each side (stratified bootstrap, seeded)."""
    rng = np.random.default_rng(seed)
    point = statistics.fmean(prob_improvement(a, b) for a, b in strata)
    draws = np.empty(resamples)
    for r in range(resamples):
        draws[r] = statistics.fmean(
            prob_improvement(list(rng.choice(a, len(a))), list(rng.choice(b, len(b))))
            for a, b in strata)
    tail = (1 - level) / 2
    return point, float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def seeds_for_power(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8,
                    most: int = 1000, strata: int = 1) -> int | None:
    """The fewest seeds n for which a two-sided paired t-test at `alpha` detects a true mean
    difference `effect` with probability >= `power`, when the paired differences have
    standard deviation `sd` (noncentral t); None beyond `most`. With `strata` k > 1: n seeds
    on each of k datasets, tested by `stratified` (SE sd / sqrt(k n), k (n - 1) degrees of
    freedom), `sd` the root mean square of the datasets' paired SDs."""
    for n in range(2, most + 1):
        df = strata * (n - 1)
        critical = stats.t.ppf(1 - alpha / 2, df)
        shift = effect / (sd / math.sqrt(strata * n)) if sd > 0 else math.inf
        if shift == math.inf:
            return n
        achieved = stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift)
        if achieved >= power:
            return n
    return None
