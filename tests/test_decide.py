"""Claims that decide (mfh/report/decide.py) and their statistics, against scipy and by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from mfh.report.claims import Comparison, parse_claims
from mfh.report.decide import effects, to_csv, to_markdown, verdicts
from mfh.report.stats import (
    prob_improvement,
    prob_improvement_ci,
    seeds_for_power,
    stratified,
    tost_p,
)

RNG = np.random.default_rng(0)


def test_one_stratum_is_the_paired_t_test():
    a, b = RNG.normal(size=8), RNG.normal(size=8)
    pooled = stratified([list(a - b)])
    assert pooled.p_t == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)
    assert pooled.df == 7 and pooled.mean == pytest.approx(np.mean(a - b))


def test_strata_weigh_the_same_by_hand():
    d1, d2 = [1.0, 2.0, 3.0], [0.0, 0.5, 1.0, 1.5, 2.0]
    pooled = stratified([d1, d2])
    se = math.sqrt(np.var(d1, ddof=1) / 3 + np.var(d2, ddof=1) / 5) / 2
    assert pooled.mean == pytest.approx((2.0 + 1.0) / 2)
    assert (pooled.se, pooled.df) == (pytest.approx(se), 6)
    assert pooled.p_t == pytest.approx(2 * stats.t.sf(1.5 / se, 6))
    w = [3 / np.var(d1, ddof=1), 5 / np.var(d2, ddof=1)]
    fixed = (w[0] * 2 + w[1] * 1) / sum(w)
    q = w[0] * (2 - fixed) ** 2 + w[1] * (1 - fixed) ** 2
    assert pooled.q == pytest.approx(q) and pooled.p_q == pytest.approx(stats.chi2.sf(q, 1))


def test_tost_is_the_90_percent_interval_inside_the_margin():
    for mean in (-0.6, -0.3, 0.0, 0.2, 0.45):
        se, df, margin = 0.1, 9, 0.5
        low, high = stats.t.interval(0.90, df, loc=mean, scale=se)
        assert (tost_p(mean, se, df, margin) < 0.05) == (-margin < low and high < margin)
    assert tost_p(0.0, 0.1, 9, 0.5) == pytest.approx(stats.t.sf(5.0, 9))


def test_probability_of_improvement_is_mann_whitney():
    a, b = [1.0, 2.0, 2.0, 5.0], [2.0, 3.0, 4.0]
    u = stats.mannwhitneyu(b, a).statistic   # pairs with b > a, ties half
    assert prob_improvement(a, b) == pytest.approx(u / 12)
    point, low, high = prob_improvement_ci([(a, b), ([0.0, 1.0], [1.0, 2.0])], resamples=500)
    assert point == pytest.approx((u / 12 + 0.875) / 2) and low <= point <= high
    assert prob_improvement_ci([(a, b)], resamples=500) == prob_improvement_ci([(a, b)],
                                                                               resamples=500)


def test_seeds_for_power_match_the_textbook_and_a_simulation():
    assert seeds_for_power(1.0, 1.0) == 10     # d = 1: 10 pairs (power 0.80)
    assert seeds_for_power(1.0, 0.5) == 34     # d = 0.5: 34 pairs
    n = seeds_for_power(0.8, 0.5)
    hits = sum(stats.ttest_1samp(RNG.normal(0.5, 0.8, n), 0).pvalue < 0.05
               for _ in range(4000)) / 4000
    assert 0.78 <= hits <= 0.85
    assert seeds_for_power(100.0, 0.01) is None


def test_pooled_seeds_for_power_match_a_simulation_of_the_stratified_test():
    sds = [0.6, 1.2, 1.0]   # three datasets' paired SDs
    rms = float(np.sqrt(np.mean(np.square(sds))))
    n = seeds_for_power(rms, 0.5, strata=3)
    assert n < seeds_for_power(rms, 0.5) / 2   # pooling three datasets needs far fewer each

    def power(seeds: int) -> float:
        return sum(stratified([list(RNG.normal(0.5, sd, seeds)) for sd in sds]).p_t < 0.05
                   for _ in range(3000)) / 3000
    assert power(n) >= 0.77 and power(n - 2) < 0.8


def claims(text_primary, secondary=()):
    return parse_claims([{"name": "c", "primary": text_primary, "secondary": list(secondary)}])


def errors_for(diffs: dict[str, list[float]], worse="B", better="A"):
    """(label, dataset) -> {seed: error}: B at 10, A at 10 + the dataset's differences."""
    out = {}
    for dataset, d in diffs.items():
        out[(worse, dataset)] = {s: 10.0 + 0.1 * s for s in range(len(d))}
        out[(better, dataset)] = {s: 10.0 + 0.1 * s + x for s, x in enumerate(d)}
    return out


@pytest.mark.parametrize("diffs,expected", [
    ({"x": [-1.0, -1.2, -0.9, -1.1, -1.0], "y": [-0.8, -1.0, -1.1, -0.9, -1.2]}, "supported"),
    ({"x": [1.0, 1.2, 0.9, 1.1, 1.0], "y": [0.8, 1.0, 1.1, 0.9, 1.2]}, "contradicted"),
    ({"x": [0.01, -0.02, 0.0, 0.02, -0.01] * 2, "y": [0.0, 0.01, -0.01, 0.02, -0.02] * 2},
     "equivalent"),
    ({"x": [-2.0, 1.5, 0.5, -1.0, 2.0], "y": [1.0, -2.0, 0.3, 1.5, -1.0]}, "inconclusive"),
])
def test_the_rule_gives_each_verdict(diffs, expected):
    claim = claims(["A < B"])
    found = effects(claim, ("x", "y"), errors_for(diffs), margin=0.5)
    decided = {v.dataset: v.verdict for v in verdicts(claim, found)}
    assert decided["pooled"] == expected
    text = to_markdown(found, verdicts(claim, found), 0.5)
    assert "Rule, fixed before the runs" in text and "| c | A < B | primary | pooled" in text
    assert to_csv(found, verdicts(claim, found)).count("\n") == 1 + 3


def test_secondary_comparisons_are_reported_but_do_not_decide():
    claim = claims(["A < B"], ["C < B"])
    errors = errors_for({"x": [-1.0, -1.2, -0.9, -1.1, -1.0]})
    errors[("C", "x")] = {s: 50.0 for s in range(5)}   # far worse: would contradict
    found = effects(claim, ("x",), errors, margin=0.5)
    assert [(str(e.comparison), e.primary) for e in found] == [("A < B", True),
                                                             ("C < B", False)]
    assert [v.verdict for v in verdicts(claim, found)] == ["supported"]
    assert found[0].sd == pytest.approx(np.std([-1.0, -1.2, -0.9, -1.1, -1.0], ddof=1))


def test_holm_runs_over_the_claims_and_a_claim_missing_a_comparison_is_not_run():
    two = parse_claims([{"name": "c1", "primary": ["A < B"]},
                        {"name": "c2", "primary": ["A < D"]}])
    errors = errors_for({"x": [-1.0, -1.2, -0.9, -1.1, -1.0]})
    found = effects(two, ("x",), errors, margin=0.5)
    decided = verdicts(two, found)
    assert [(v.claim, v.verdict) for v in decided] == [("c1", "supported"),
                                                      ("c2", "not run")]
    assert Comparison.parse("A<B") == two[0].comparisons[0]
    with pytest.raises(ValueError, match="mix"):
        parse_claims([{"name": "a", "primary": ["A < B"]}, {"name": "b", "comparisons": ["A < B"]}])


def test_a_comparison_is_pooled_over_the_datasets_where_both_sides_ran():
    claim = claims(["A < B"])
    errors = errors_for({"x": [-1.0, -1.2, -0.9, -1.1, -1.0], "y": [-0.8, -1.0, -1.1, -0.9, -1.2],
                         "z": [-1.0, -0.9, -1.1, -1.0, -1.2]})
    del errors[("A", "z")]   # a column that ran B only
    found = effects(claim, ("x", "y", "z"), errors, margin=0.5)
    pooled = [e for e in found if e.dataset == "pooled"]
    assert [e.dataset for e in found] == ["x", "y", "pooled"] and pooled[0].strata == 2
    assert pooled[0].mean == pytest.approx((-1.04 - 1.0) / 2)
    assert {v.dataset: v.verdict for v in verdicts(claim, found)}["pooled"] == "supported"
    sds = [np.std(d, ddof=1) for d in ([-1.0, -1.2, -0.9, -1.1, -1.0],
                                       [-0.8, -1.0, -1.1, -0.9, -1.2])]
    assert pooled[0].sd == pytest.approx(np.sqrt(np.mean(np.square(sds))))
    n = seeds_for_power(pooled[0].sd, 0.5, strata=2)
    assert f"| {n} per dataset |" in to_markdown(found, verdicts(claim, found), 0.5)
