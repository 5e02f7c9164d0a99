"""Statistics of compare, against values computed by hand and by scipy/statsmodels."""
from __future__ import annotations

import math

import pytest

from hanprompt.experiments import stats

np = pytest.importorskip("numpy")
scipy_stats = pytest.importorskip("scipy.stats")
proportion = pytest.importorskip("statsmodels.stats.proportion")
power = pytest.importorskip("statsmodels.stats.power")


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 5), (3, 5), (5, 5), (1, 10), (7, 20), (50, 100)])
def test_wilson_matches_statsmodels(k, n):
    assert stats.wilson(k, n) == pytest.approx(proportion.proportion_confint(k, n, method="wilson"), abs=1e-12)


def test_wilson_by_hand():
    # 5/10: centre (0.5 + 1.96²/20) / (1 + 1.96²/10) = 0.5; half 1.96/1.384 * sqrt(0.025 + 0.00960) = 0.2634
    lo, hi = stats.wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert stats.wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert stats.wilson(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        stats.wilson(0, 0)


def test_newcombe_reproduces_the_paper_and_statsmodels():
    # Newcombe (1998), example (a): 56/70 vs 48/80, method 10 gives 0.0524 to 0.3339.
    lo, hi = stats.newcombe(48, 80, 56, 70)  # B minus A
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    for ka, na, kb, nb in [(0, 5, 5, 5), (2, 5, 4, 5), (3, 3, 0, 4), (9, 10, 1, 10), (1, 1, 0, 1)]:
        expected = proportion.confint_proportions_2indep(kb, nb, ka, na, method="newcomb", compare="diff")
        assert stats.newcombe(ka, na, kb, nb) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_mean_against_scipy():
    values = [0.2, 0.4, 0.4, 0.5, 0.7, 0.9, 1.0, 0.3]
    ours = stats.bootstrap_mean(values)
    theirs = scipy_stats.bootstrap((np.array(values),), np.mean, method="percentile", n_resamples=20_000,
                                   random_state=np.random.default_rng(1)).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.02)  # two Monte Carlo estimates
    assert ours[0] < np.mean(values) < ours[1]
    assert stats.bootstrap_mean(values) == ours  # a fixed seed: the same interval every time
    assert stats.bootstrap_mean([0.5]) is None
    assert stats.bootstrap_mean([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_bootstrap_difference_against_scipy():
    a = [0.1, 0.3, 0.2, 0.4, 0.3, 0.2]
    b = [0.6, 0.8, 0.7, 0.9, 0.5, 0.7, 0.8]
    ours = stats.bootstrap_mean_difference(a, b)
    theirs = scipy_stats.bootstrap(
        (np.array(a), np.array(b)), lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis),
        method="percentile", n_resamples=20_000, paired=False, vectorized=True,
        random_state=np.random.default_rng(1)).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.02)
    assert 0 < ours[0] < np.mean(b) - np.mean(a) < ours[1]


def test_sample_sizes():
    # By hand: p̄ = 0.65; (1.96·sqrt(2·0.65·0.35) + 0.8416·sqrt(0.25 + 0.16))² / 0.3² = 38.5 -> 39
    assert stats.n_for_proportions(0.5, 0.8) == 39
    for p_a, p_b in [(0.5, 0.8), (0.2, 0.3), (0.9, 0.6), (0.0, 0.4)]:
        expected = proportion.samplesize_proportions_2indep_onetail(p_b - p_a, p_a, 0.8)
        assert stats.n_for_proportions(p_a, p_b) == max(2, math.ceil(expected))
    assert stats.n_for_proportions(0.5, 0.5) is None
    # Means: (1.96 + 0.8416)² · 2 · 0.2² / 0.1² = 62.8 -> 63; statsmodels solves the same equation.
    assert stats.n_for_means(0.5, 0.6, 0.2, 0.2) == 63
    solved = power.NormalIndPower().solve_power(effect_size=0.5, alpha=0.05, power=0.8)
    assert stats.n_for_means(0.0, 0.5, 1.0, 1.0) == math.ceil(solved)


def result(i, passed=None, score=None, *, key=None, temperature=0.0, seed=None, cached=False, vars=None):
    checks = []
    if passed is not None:
        checks.append({"name": "contains", "passed": passed, "score": None})
    if score is not None:
        checks.append({"name": "speech-level", "passed": True, "score": score})
    return {"id": i, "cache_key": key or f"k{i}", "cached": cached, "vars": vars or {},
            "params": {"temperature": temperature, "seed": seed}, "checks": checks}


def test_copies_count_once():
    rows = [result(1, True, key="x"), result(2, True, key="x", cached=True), result(3, True, key="x", cached=True),
            result(4, False, key="y", cached=True)]
    sample = stats.Sample.of(rows)
    assert (sample.total, sample.independent, sample.passes) == (4, 2, [True, False])
    # The measured one stands for its copies.
    assert [r["id"] for r in stats.independent(rows)] == [1, 4]
    # Unseeded sampling: every repeat is its own answer, even with one cache key.
    sampled = [result(i, True, key="z", temperature=0.8) for i in range(5)]
    assert stats.Sample.of(sampled).independent == 5
    # Seeded repeats have their own keys (seed + repeat index): independent too.
    seeded = [result(i, True, key=f"s{i}", temperature=0.8, seed=7 + i) for i in range(3)]
    assert stats.Sample.of(seeded).independent == 3


def test_summary_scores_and_unjudged_checks():
    rows = [result(1, True, 0.5), result(2, False, 1.0), result(3, True)]
    rows[2]["checks"].append({"name": "llm-rubric", "passed": None, "score": None})  # not judged
    s = stats.Sample.of(rows).summary()
    assert (s["passed"], s["checked"], s["pass_rate"], s["scored"], s["mean_score"]) == (2, 3, 2 / 3, 2, 0.75)
    assert s["pass_rate_ci"] == pytest.approx(list(stats.wilson(2, 3)))
    assert s["mean_score_ci"] == [0.5, 1.0]


def test_verdicts():
    def sample(passes, temperature=0.8):
        return stats.Sample.of([result(i, p, key=f"{id(passes)}-{i}", temperature=temperature)
                                for i, p in enumerate(passes)])

    clear = stats.verdict(sample([False] * 10), sample([True] * 10))
    assert clear["verdict"] == "B better" and clear["pass_rate_difference"] == 1.0
    assert clear["pass_rate_difference_ci"][0] > 0
    assert stats.verdict(sample([True] * 10), sample([False] * 10))["verdict"] == "A better"
    few = stats.verdict(sample([False, True, False]), sample([True, True, False]))
    assert few["verdict"] == f"no clear difference (n too small: ~{few['repeats_needed']} repeats would tell)"
    assert few["repeats_needed"] == stats.n_for_proportions(1 / 3, 2 / 3) == 35  # (1.96·√.5 + .8416·√(4/9))² · 9 = 34.1
    greedy = stats.verdict(sample([False, True], 0.0), sample([True, True], 0.0))
    assert "greedy repeats are copies" in greedy["verdict"]
    same = stats.verdict(sample([True, False]), sample([False, True]))
    assert same["verdict"] == "no clear difference (A and B are equal here)"
    none = stats.verdict(stats.Sample.of([]), sample([True]))
    assert none["verdict"].startswith("not comparable")


def test_verdict_from_scores_and_repeats_per_prompt():
    def scored(values, city_count=1):
        return stats.Sample.of([result(i, None, v, key=f"{v}-{i}", temperature=0.8, vars={"city": i % city_count})
                                for i, v in enumerate(values)])

    better = stats.verdict(scored([0.1, 0.2, 0.15, 0.1, 0.2]), scored([0.9, 0.8, 0.85, 0.9, 0.95]))
    assert better["verdict"] == "B better" and better["pass_rate_difference"] == 0.0  # every check passed
    assert better["mean_score_difference"] == pytest.approx(0.73)
    unclear = stats.verdict(scored([0.2, 0.8, 0.5, 0.4], 2), scored([0.3, 0.9, 0.6, 0.5], 2))
    needed = stats.n_for_means(0.475, 0.575, stats._sd([0.2, 0.8, 0.5, 0.4]), stats._sd([0.3, 0.9, 0.6, 0.5]))
    assert unclear["repeats_needed"] == math.ceil(needed / 2)  # two cities: each repeat gives two results
