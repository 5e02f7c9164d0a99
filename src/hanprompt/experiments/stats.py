"""Whether a difference between prompts is real: intervals for pass rates and mean scores.

Only independent results count: copies of one answer (greedy repeats, cache hits, a result
served from an earlier run) are one result. Methods, all at 95%, chosen because they hold at
small n and on degenerate data (all passes, all failures, all scores equal); the coverage
simulation in ``hanprompt.experiments.coverage`` shows it at n = 2..20:

- pass rate: Clopper-Pearson exact interval (Clopper & Pearson 1934): its coverage is at least
  95% at every n and every true rate. Wilson's interval was dropped: at a true rate of 0.5 it
  covers 87.5% at n = 4 and 92.3% at n = 16.
- mean score (scores in 0..1): the Clopper-Pearson interval of the summed scores over n, i.e.
  Beta quantiles at a fractional count. Exact for 0/1 scores; conservative for scores in
  between, which are less spread than 0/1 scores of the same mean (Hoeffding 1963, Theorem 3).
  Percentile bootstrap and t-intervals were dropped: a bootstrap cannot be wider than the values
  it saw, and a t-interval covers 72-83% on scores that are mostly 1 with a rare 0, at n = 10-20.
- differences B - A of pass rates and of mean scores: Newcombe's hybrid method (Newcombe 1998,
  method 10) generalised as MOVER (Zou & Donner 2008), built from the two intervals above:
  [d - sqrt((b - l_B)² + (u_A - a)²), d + sqrt((u_B - b)² + (a - l_A)²)].
- a verdict needs at least ``MIN_VERDICT_N`` (5) independent results on each side; below that
  the interval is still given, says so, and no verdict is given.
- repeats that would tell: the normal-approximation sample size for a two-sided test at
  alpha 0.05 with power 0.8 (Fleiss, Levin & Paik 2003, eq. 4.14 without continuity
  correction, for proportions; the two-sample z formula for means), at the observed values.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from statistics import NormalDist, fmean
from typing import Iterable

CONFIDENCE = 0.95
POWER = 0.8
MIN_VERDICT_N = 5  # independent results per side before a verdict is given
COVERAGE_FLOOR = 0.93  # what the coverage simulation asserts for the nominal 95%

METHODS = {
    "pass_rate": "Clopper-Pearson exact interval, 95%",
    "mean_score": "Clopper-Pearson interval of the summed scores (0-1) over n, 95%, conservative",
    "pass_rate_difference": "Newcombe/MOVER from the two Clopper-Pearson intervals, 95%, B minus A",
    "mean_score_difference": "Newcombe/MOVER from the two mean-score intervals, 95%, B minus A",
    "verdict": f"given only with at least {MIN_VERDICT_N} independent results on each side",
    "repeats_needed": "normal-approximation sample size per side, two-sided alpha 0.05, power 0.8, at the observed values",
    "independent_results": "copies of one answer (greedy or seeded repeats, cache hits) count once",
    "result_score": "mean of the result's scored checks (0-1)",
}


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def clopper_pearson(successes, n, confidence: float = CONFIDENCE):
    """Clopper-Pearson interval (low, high) of ``successes / n``; ValueError unless 0 <= successes <= n, n >= 1.

    low = Beta(α/2; s, n - s + 1), high = Beta(1 - α/2; s + 1, n - s), with low = 0 at s = 0 and
    high = 1 at s = n. ``successes`` may be fractional (a sum of 0-1 scores) and, with ``n``, a
    numpy array, for the coverage simulation.
    """
    import numpy as np
    from scipy.stats import beta

    s, n_ = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    if np.any(n_ < 1) or np.any(s < 0) or np.any(s > n_):
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    alpha = 1 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(s <= 0, 0.0, beta.ppf(alpha / 2, np.maximum(s, 1e-300), n_ - s + 1))
        high = np.where(s >= n_, 1.0, beta.ppf(1 - alpha / 2, s + 1, np.maximum(n_ - s, 1e-300)))
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def mover(est_a, interval_a, est_b, interval_b):
    """Interval of est_b - est_a from the two sides' intervals (Newcombe 1998 method 10; Zou & Donner 2008)."""
    (lo_a, hi_a), (lo_b, hi_b) = interval_a, interval_b
    d = est_b - est_a
    low = d - ((est_b - lo_b) ** 2 + (hi_a - est_a) ** 2) ** 0.5
    high = d + ((hi_b - est_b) ** 2 + (est_a - lo_a) ** 2) ** 0.5
    return low, high


def newcombe(successes_a, n_a, successes_b, n_b, confidence: float = CONFIDENCE):
    """Interval of p_B - p_A from the two Clopper-Pearson intervals (MOVER)."""
    return mover(successes_a / n_a, clopper_pearson(successes_a, n_a, confidence),
                 successes_b / n_b, clopper_pearson(successes_b, n_b, confidence))


def mean_interval(scores, confidence: float = CONFIDENCE):
    """Interval of the mean of 0-1 scores: Clopper-Pearson of their sum over n; None for no scores."""
    if len(scores) == 0:
        return None
    return clopper_pearson(min(max(math.fsum(scores), 0.0), len(scores)), len(scores), confidence)


def interval(low: float, high: float, method: str, **n) -> dict:
    """An interval as ``compare --json`` gives it: low, high, the method and the n behind it."""
    return {"low": low, "high": high, "method": method, **n}


def _results(n: int) -> str:
    return f"{n} independent result" + ("" if n == 1 else "s")


def difference_interval(est_a, ia, est_b, ib, method: str, n_a: int, n_b: int) -> dict:
    """B - A with its MOVER interval, and a note (and no verdict) below ``MIN_VERDICT_N`` on a side."""
    lo, hi = mover(est_a, ia, est_b, ib)
    out = interval(lo, hi, method, n_a=n_a, n_b=n_b, minimum_n=MIN_VERDICT_N)
    if min(n_a, n_b) < MIN_VERDICT_N:
        out["note"] = f"below the minimum: {_results(min(n_a, n_b))} on a side, a verdict needs {MIN_VERDICT_N}"
    return out


def n_for_proportions(p_a: float, p_b: float, *, confidence: float = CONFIDENCE, power: float = POWER) -> int | None:
    """Results per side for a two-sided test of p_A = p_B to find this difference (None if equal).

    n = (z_a * sqrt(2 p̄ q̄) + z_b * sqrt(p_A q_A + p_B q_B))² / (p_A - p_B)², p̄ = (p_A + p_B) / 2.
    """
    if p_a == p_b:
        return None
    z_a, z_b = _z(confidence), NormalDist().inv_cdf(power)
    p = (p_a + p_b) / 2
    root = z_a * math.sqrt(2 * p * (1 - p)) + z_b * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return max(2, math.ceil(root * root / (p_a - p_b) ** 2))


def n_for_means(mean_a: float, mean_b: float, sd_a: float, sd_b: float, *, confidence: float = CONFIDENCE,
                power: float = POWER) -> int | None:
    """Results per side to find this difference of means: (z_a + z_b)² (s_A² + s_B²) / d² (None if equal)."""
    if mean_a == mean_b:
        return None
    z = _z(confidence) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(z * z * (sd_a ** 2 + sd_b ** 2) / (mean_b - mean_a) ** 2))


# --- results as stored: independence, pass and score --------------------------------------

def _deterministic(result: dict) -> bool:
    params = result.get("params") or {}
    return (params.get("temperature") or 0) == 0 or params.get("seed") is not None


def origin(result: dict):
    """What a result is a copy of: one key for every copy of the same answer."""
    if _deterministic(result) and result.get("cache_key"):
        return ("key", result["cache_key"])  # same model, messages, parameters and seed: same answer
    return ("id", result.get("cached_from_id") or result["id"])


def independent(results: Iterable[dict]) -> list[dict]:
    """One result per distinct answer, preferring the one measured in this run over its copies."""
    chosen: dict = {}
    for r in results:
        key = origin(r)
        if key not in chosen or (chosen[key].get("cached") and not r.get("cached")):
            chosen[key] = r
    return list(chosen.values())


def _countable(check: dict) -> bool:
    return check.get("passed") is not None  # a check that could not be made (no judge) counts nowhere


def passed(result: dict) -> bool | None:
    """Whether every check passed; None for a result without checks."""
    checks = [c for c in result.get("checks") or [] if _countable(c)]
    return all(c["passed"] for c in checks) if checks else None


def score(result: dict) -> float | None:
    """The mean of the result's scored checks (each 0..1); None when none has a score."""
    scores = [c["score"] for c in result.get("checks") or [] if c.get("score") is not None]
    return fmean(scores) if scores else None


@dataclass
class Sample:
    """The independent results of one group (a variant x model cell), reduced to passes and scores."""

    total: int
    independent: int
    passes: list[bool]
    scores: list[float]
    units: int  # distinct prompts (vars) per repeat
    greedy: bool  # repeats of a greedy prompt are copies: more of them tell nothing

    @classmethod
    def of(cls, results: list[dict]) -> "Sample":
        ind = independent(results)
        units = len({json.dumps(r.get("vars") or {}, sort_keys=True) for r in results}) or 1
        return cls(
            total=len(results),
            independent=len(ind),
            passes=[p for p in map(passed, ind) if p is not None],
            scores=[s for s in map(score, ind) if s is not None],
            units=units,
            greedy=any(((r.get("params") or {}).get("temperature") or 0) == 0 for r in results),
        )

    def summary(self) -> dict:
        """independent, passed, checked, pass_rate, pass_rate_ci, scored, mean_score, mean_score_ci.

        Each ``*_ci`` is an ``interval`` dict (low, high, method, n) or None when nothing was checked or scored.
        """
        k, n = sum(self.passes), len(self.passes)
        scores = mean_interval(self.scores)
        return {
            "independent": self.independent,
            "passed": k,
            "checked": n,
            "pass_rate": k / n if n else None,
            "pass_rate_ci": interval(*clopper_pearson(k, n), METHODS["pass_rate"], n=n) if n else None,
            "scored": len(self.scores),
            "mean_score": fmean(self.scores) if self.scores else None,
            "mean_score_ci": interval(*scores, METHODS["mean_score"], n=len(self.scores)) if scores else None,
        }


def _sd(values: list[float]) -> float:
    m = fmean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0


def _direction(interval: dict | None) -> str | None:
    if interval is None:
        return None
    if interval["low"] > 0:
        return "B"
    if interval["high"] < 0:
        return "A"
    return ""


def verdict(a: Sample, b: Sample) -> dict:
    """B against A: differences with their intervals, and the verdict in words.

    ``verdict`` is "B better", "A better", "no clear difference (...)", "no verdict (...)" (fewer
    than ``MIN_VERDICT_N`` independent results on a side) or "not comparable (...)". Each ``*_ci``
    is a ``difference_interval`` dict (low, high, method, n_a, n_b, minimum_n, note below it).
    """
    out: dict = {"pass_rate_difference": None, "pass_rate_difference_ci": None,
                 "mean_score_difference": None, "mean_score_difference_ci": None, "repeats_needed": None}
    needed, sizes = [], []
    if a.passes and b.passes:
        ka, na, kb, nb = sum(a.passes), len(a.passes), sum(b.passes), len(b.passes)
        out["pass_rate_difference"] = kb / nb - ka / na
        out["pass_rate_difference_ci"] = difference_interval(
            ka / na, clopper_pearson(ka, na), kb / nb, clopper_pearson(kb, nb), METHODS["pass_rate_difference"], na, nb)
        needed.append(n_for_proportions(ka / na, kb / nb))
        sizes.append(min(na, nb))
    if a.scores and b.scores:
        ma, mb = fmean(a.scores), fmean(b.scores)
        out["mean_score_difference"] = mb - ma
        out["mean_score_difference_ci"] = difference_interval(
            ma, mean_interval(a.scores), mb, mean_interval(b.scores), METHODS["mean_score_difference"],
            len(a.scores), len(b.scores))
        needed.append(n_for_means(ma, mb, _sd(a.scores), _sd(b.scores)) if min(len(a.scores), len(b.scores)) > 1
                      else None)
        sizes.append(min(len(a.scores), len(b.scores)))
    if not sizes:
        out["verdict"] = "not comparable (no checked results on one side)"
        return out
    wanted = [n for n in needed if n is not None]
    have = max(len(a.passes), len(b.passes), len(a.scores), len(b.scores))
    greedy = "; greedy repeats are copies: sample with temperature > 0" if (a.greedy or b.greedy) else ""
    if max(sizes) < MIN_VERDICT_N:
        # At least the minimum, and at least one more than there is.
        n = max([MIN_VERDICT_N, have + 1] + ([min(wanted)] if wanted else []))
        out["repeats_needed"] = math.ceil(n / max(a.units, b.units))
        out["verdict"] = (f"no verdict (below the minimum: {_results(max(sizes))} on a side, "
                          f"a verdict needs {MIN_VERDICT_N}; at least {out['repeats_needed']} repeats{greedy})")
        return out
    # Only intervals at or above the minimum decide.
    usable = [ci for ci in (out["pass_rate_difference_ci"], out["mean_score_difference_ci"])
              if ci is not None and "note" not in ci]
    sides = {_direction(ci) for ci in usable} - {None, ""}
    if len(sides) == 1:
        out["verdict"] = f"{sides.pop()} better"
        return out
    if len(sides) == 2:
        out["verdict"] = "no clear difference (pass rate and mean score disagree)"
        return out
    if not wanted:
        out["verdict"] = "no clear difference (A and B are equal here)"
        return out
    # At least one more than there is: the interval already failed to tell at today's n.
    n = max(min(wanted), have + 1)
    repeats = math.ceil(n / max(a.units, b.units))
    out["repeats_needed"] = repeats
    out["verdict"] = f"no clear difference (n too small: ~{repeats} repeats would tell{greedy})"
    return out
