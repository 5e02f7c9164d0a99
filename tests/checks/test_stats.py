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
def test_clopper_pearson_matches_statsmodels(k, n):
    assert stats.clopper_pearson(k, n) == pytest.approx(proportion.proportion_confint(k, n, method="beta"), abs=1e-9)


def test_clopper_pearson_by_hand():
    # 0/n: high = 1 - (α/2)^(1/n); n/n: low = (α/2)^(1/n) (Clopper & Pearson 1934).
    assert stats.clopper_pearson(0, 10) == (0.0, pytest.approx(1 - 0.025 ** 0.1, abs=1e-12))
    assert stats.clopper_pearson(4, 4) == (pytest.approx(0.025 ** 0.25, abs=1e-12), 1.0)
    with pytest.raises(ValueError):
        stats.clopper_pearson(0, 0)
    with pytest.raises(ValueError):
        stats.clopper_pearson(3, 2)


def test_difference_is_newcombe_built_from_the_two_intervals():
    # MOVER by hand for 2/5 (A) against 4/5 (B).
    la, ua = proportion.proportion_confint(2, 5, method="beta")
    lb, ub = proportion.proportion_confint(4, 5, method="beta")
    d = 0.8 - 0.4
    lo, hi = stats.newcombe(2, 5, 4, 5)
    assert lo == pytest.approx(d - math.sqrt((0.8 - lb) ** 2 + (ua - 0.4) ** 2), abs=1e-9)
    assert hi == pytest.approx(d + math.sqrt((ub - 0.8) ** 2 + (0.4 - la) ** 2), abs=1e-9)
    # With Wilson's intervals the same construction is statsmodels' Newcombe (method 10).
    wa, wb = proportion.proportion_confint(48, 80, method="wilson"), proportion.proportion_confint(56, 70, method="wilson")
    expected = proportion.confint_proportions_2indep(56, 70, 48, 80, method="newcomb", compare="diff")
    assert stats.mover(48 / 80, wa, 56 / 70, wb) == pytest.approx(expected, abs=1e-12)
    # Degenerate sides: 0/n against n/n holds 1 at the top.
    assert stats.newcombe(0, 6, 6, 6)[1] == pytest.approx(1.0)


def test_mean_score_interval_is_the_exact_interval_of_the_sum():
    values = [0.2, 0.4, 0.4, 0.5, 0.7, 0.9, 1.0, 0.3]
    lo, hi = stats.mean_interval(values)
    assert (lo, hi) == pytest.approx((scipy_stats.beta.ppf(0.025, 4.4, 4.6), scipy_stats.beta.ppf(0.975, 5.4, 3.6)))
    assert lo < np.mean(values) < hi
    # 0/1 scores: exactly the pass-rate interval.
    assert stats.mean_interval([1, 0, 1, 1]) == pytest.approx(stats.clopper_pearson(3, 4))
    # All scores equal is not certainty: the interval keeps its width (a bootstrap gave [0.5, 0.5]).
    lo, hi = stats.mean_interval([0.5, 0.5, 0.5])
    assert lo < 0.2 and hi > 0.8
    assert stats.mean_interval([]) is None


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
    ci = s["pass_rate_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.clopper_pearson(2, 3))
    assert ci["n"] == 3 and ci["method"].startswith("Clopper-Pearson")
    ci = s["mean_score_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.mean_interval([0.5, 1.0])) and ci["n"] == 2


def test_verdicts():
    def sample(passes, temperature=0.8):
        return stats.Sample.of([result(i, p, key=f"{id(passes)}-{i}", temperature=temperature)
                                for i, p in enumerate(passes)])

    clear = stats.verdict(sample([False] * 10), sample([True] * 10))
    assert clear["verdict"] == "B better" and clear["pass_rate_difference"] == 1.0
    ci = clear["pass_rate_difference_ci"]
    assert ci["low"] > 0 and (ci["n_a"], ci["n_b"], ci["minimum_n"]) == (10, 10, 5) and "note" not in ci
    assert stats.verdict(sample([True] * 10), sample([False] * 10))["verdict"] == "A better"
    unclear = stats.verdict(sample([False, True, False, False, True, False]), sample([True, True, False, True, True, False]))
    assert unclear["verdict"] == f"no clear difference (n too small: ~{unclear['repeats_needed']} repeats would tell)"
    assert unclear["repeats_needed"] == stats.n_for_proportions(1 / 3, 2 / 3) == 35  # (1.96·√.5 + .8416·√(4/9))² · 9 = 34.1
    same = stats.verdict(sample([True, False] * 3), sample([False, True] * 3))
    assert same["verdict"] == "no clear difference (A and B are equal here)"
    none = stats.verdict(stats.Sample.of([]), sample([True]))
    assert none["verdict"].startswith("not comparable")


def test_no_verdict_below_the_minimum():
    def sample(passes, temperature=0.8):
        return stats.Sample.of([result(i, p, key=f"{id(passes)}-{i}", temperature=temperature)
                                for i, p in enumerate(passes)])

    # The most lopsided outcome at every n below the minimum: an interval, a note and no verdict.
    for n in range(1, stats.MIN_VERDICT_N):
        few = stats.verdict(sample([False] * n), sample([True] * n))
        assert few["verdict"].startswith(f"no verdict (below the minimum: {n} independent result{'s' * (n > 1)} "
                                         f"on a side, a verdict needs {stats.MIN_VERDICT_N}")
        assert few["pass_rate_difference_ci"]["note"].startswith("below the minimum")
        assert few["repeats_needed"] >= stats.MIN_VERDICT_N
    # At the minimum the same outcome is a verdict.
    n = stats.MIN_VERDICT_N
    assert stats.verdict(sample([False] * n), sample([True] * n))["verdict"] == "B better"
    greedy = stats.verdict(sample([False, True], 0.0), sample([True, True], 0.0))
    assert greedy["verdict"].startswith("no verdict") and "greedy repeats are copies" in greedy["verdict"]


def test_coverage_at_small_n():
    """The simulation of the table in docs/judges-and-statistics.md: every interval holds at n = 2..20, at rates 0, 0.5 and 1."""
    from hanprompt.experiments import coverage

    floor = stats.COVERAGE_FLOOR
    for n in range(2, 21):
        for p in coverage.RATES:
            assert coverage.proportion_coverage(n, p) >= floor, (n, p)
        for p_a, p_b in [(a, b) for a in coverage.RATES for b in coverage.RATES]:
            assert coverage.difference_coverage(n, p_a, n, p_b) >= floor, (n, p_a, p_b)
        # unequal sides too
        assert coverage.difference_coverage(n, 0.5, max(2, n // 2), 0.5) >= floor, n
        for name in ("uniform", "mostly 1"):
            assert coverage.mean_coverage(n, name, repeats=1000, seed=n) >= floor, (n, name)
        assert coverage.mean_difference_coverage(n, "mostly 1", repeats=1000, seed=n) >= floor, n
    # The check can fail: Wilson's interval, the previous method, misses at n = 4 and p = 0.5.
    wilson = proportion.proportion_confint(np.arange(5), 4, method="wilson")
    held = (wilson[0] <= 0.5) & (0.5 <= wilson[1])
    assert scipy_stats.binom.pmf(np.arange(5), 4, 0.5)[held].sum() == pytest.approx(0.875)
    # and a t-interval on scores that are mostly 1 covers far below the floor
    rng = np.random.default_rng(0)
    x = rng.choice([0.0, 0.8, 1.0], p=[0.05, 0.1, 0.85], size=(1000, 12))
    half = scipy_stats.t.ppf(0.975, 11) * x.std(axis=1, ddof=1) / math.sqrt(12)
    assert ((x.mean(axis=1) - half <= 0.93) & (0.93 <= x.mean(axis=1) + half)).mean() < floor


def test_verdict_from_scores_and_repeats_per_prompt():
    def scored(values, city_count=1):
        return stats.Sample.of([result(i, None, v, key=f"{v}-{i}", temperature=0.8, vars={"city": i % city_count})
                                for i, v in enumerate(values)])

    better = stats.verdict(scored([0.1, 0.2, 0.15, 0.1, 0.2] * 2), scored([0.9, 0.8, 0.85, 0.9, 0.95] * 2))
    assert better["verdict"] == "B better" and better["pass_rate_difference"] == 0.0  # every check passed
    assert better["mean_score_difference"] == pytest.approx(0.73)
    a, b = [0.2, 0.8, 0.5, 0.4, 0.3, 0.6], [0.3, 0.9, 0.6, 0.5, 0.4, 0.7]
    unclear = stats.verdict(scored(a, 2), scored(b, 2))
    needed = stats.n_for_means(np.mean(a), np.mean(b), stats._sd(a), stats._sd(b))
    assert unclear["repeats_needed"] == math.ceil(needed / 2)  # two cities: each repeat gives two results


def _markdown_table(text: str, first: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header, {n: cells}) of the Markdown table whose header starts with ``first``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not cells[0].isdigit():
            break
        rows[cells[0]] = cells
    return head, rows


def test_the_readme_coverage_table_is_the_generated_one():
    """README.md summarises docs/judges-and-statistics.md's coverage table (made by
    ``python -m hanprompt.experiments.coverage``): the same figures for each n and column it shows,
    and no verdict below the minimum."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    head, readme = _markdown_table((root / "README.md").read_text(encoding="utf-8"), "n")
    full_head, docs = _markdown_table((root / "docs" / "judges-and-statistics.md").read_text(encoding="utf-8"), "n")
    assert len(readme) >= 4 and set(head) <= set(full_head)
    for n, cells in readme.items():
        assert dict(zip(head, cells)) == {k: v for k, v in zip(full_head, docs[n]) if k in head}, n
        assert (cells[-1] == "given") == (int(n) >= stats.MIN_VERDICT_N), n
        assert all(float(c) >= stats.COVERAGE_FLOOR for c in cells[1:-1]), n
