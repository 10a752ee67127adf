"""Paired statistics over seeds: runs with one seed share the data split and the batch order,
so two configurations are compared seed by seed.

`paired(a, b)`: the mean difference a - b over the seeds both have, its standard error
(sample standard deviation of the differences / sqrt(n)), the paired t-test's two-sided p
(`scipy.stats.ttest_rel`) and the exact sign-flip permutation test's two-sided p (all 2^n sign
patterns of the differences; with n = 5 its smallest possible p is 2/32 = 0.0625). `holm`
adjusts the p-values of one family of comparisons (Holm 1979, step-down).
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass

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
