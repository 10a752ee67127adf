"""Paired statistics and claims, against hand-computed values and scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from mfh.report.claims import Claim, Comparison, evaluate, to_csv, to_markdown, verdict
from mfh.report.stats import holm, paired, sign_flip_p

A = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 9: 7.0}   # seed 9 has no partner: left out
B = {0: 0.0, 1: 2.5, 2: 1.0, 3: 2.0}            # differences 1, -0.5, 2, 2


def test_paired_difference_t_test_by_hand():
    r = paired(A, B)
    sd = math.sqrt(((1 - 1.125) ** 2 + (-0.5 - 1.125) ** 2 + 2 * (2 - 1.125) ** 2) / 3)
    se = sd / 2
    assert (r.n, r.mean, r.se) == (4, 1.125, pytest.approx(se, rel=1e-12))
    assert r.p_t == pytest.approx(2 * stats.t.sf(1.125 / se, 3), rel=1e-12)


def test_sign_flip_p_by_hand_and_against_scipy():
    # |sum| >= 4.5 for 4 of the 16 patterns: (+,+,+,+), (+,-,+,+) flipped -0.5, and negatives
    assert sign_flip_p([1, -0.5, 2, 2]) == 4 / 16
    assert paired(A, B).p_perm == 0.25
    x, y = np.array([1.0, 2, 3, 4]), np.array([0.0, 2.5, 1, 2])
    scipy_p = stats.permutation_test((x, y), lambda u, v: np.mean(u - v), vectorized=False,
                                     permutation_type="samples", n_resamples=np.inf).pvalue
    assert scipy_p == pytest.approx(0.25)
    assert sign_flip_p([0.3, 0.1, 0.2, 0.4, 0.5]) == 2 / 32   # n = 5: the smallest possible p


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_verdict_rule():
    better = paired({s: 1.0 + 0.01 * s for s in range(5)}, {s: 2.0 for s in range(5)})
    worse = paired({s: 3.0 + 0.01 * s for s in range(5)}, {s: 2.0 for s in range(5)})
    noisy = paired({0: 1.0, 1: 3.0, 2: 2.0}, {0: 2.0, 1: 2.0, 2: 2.1})
    assert verdict([(better, 0.001), (better, 0.01)]) == "supported"
    assert verdict([(better, 0.001), (worse, 0.01)]) == "contradicted"
    assert verdict([(better, 0.001), (noisy, 0.6)]) == "inconclusive"
    assert verdict([(better, 0.001), (None, None)]) == "inconclusive"


def test_claims_are_evaluated_per_dataset_with_holm_within_the_claim():
    errors = {("U4-G3", "d"): {s: 1.0 + 0.1 * (s % 2) for s in range(6)},
              ("HashedNets", "d"): {s: 2.0 + 0.1 * (s % 3) for s in range(6)},
              ("U2-G3", "d"): {s: 1.5 + 0.2 * (s % 2) for s in range(6)}}
    claim = Claim("MFH beats HashedNets", (Comparison.parse("U4-G3 < HashedNets"),
                                           Comparison.parse("U2-G3<HashedNets")))
    rows = evaluate([claim], ["d", "other"], errors)
    assert [(r.dataset, str(r.comparison), r.verdict) for r in rows] == [
        ("d", "U4-G3 < HashedNets", "supported"), ("d", "U2-G3 < HashedNets", "supported"),
        ("other", "U4-G3 < HashedNets", "inconclusive"),
        ("other", "U2-G3 < HashedNets", "inconclusive")]
    p = [paired(errors[(x, "d")], errors[("HashedNets", "d")]).p_t for x in ("U4-G3", "U2-G3")]
    assert [r.p_holm for r in rows[:2]] == pytest.approx(holm(p))
    md = to_markdown(rows, budget="Budget: test.")
    assert "Holm-adjusted within the claim" in md and "Budget: test." in md
    assert "| MFH beats HashedNets | d | U4-G3 < HashedNets | 6 | -1.05 |" in md
    assert to_csv(rows).splitlines()[0].startswith("claim,dataset,better,worse,n,difference")
    with pytest.raises(ValueError, match="expected 'A < B'"):
        Comparison.parse("U4-G3 > HashedNets")
