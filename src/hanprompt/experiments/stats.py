"""Whether a difference between prompts is real: intervals for pass rates and mean scores.

Only independent results count: copies of one answer (greedy repeats, cache hits, a result
served from an earlier run) are one result. Methods, all at 95%:

- pass rate: Wilson score interval (Wilson 1927; recommended over the Wald interval for small n
  by Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial Proportion").
- difference of two pass rates: Newcombe's hybrid score interval (Newcombe 1998, "Interval
  estimation for the difference between independent proportions", method 10).
- mean score and difference of mean scores: percentile bootstrap (Efron & Tibshirani 1993),
  10,000 resamples with a fixed seed, each side resampled on its own.
- repeats that would tell: the normal-approximation sample size for a two-sided test at
  alpha 0.05 with power 0.8 (Fleiss, Levin & Paik 2003, eq. 4.14 without continuity
  correction, for proportions; the two-sample z formula for means), at the observed values.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from statistics import NormalDist, fmean
from typing import Iterable, Sequence

CONFIDENCE = 0.95
POWER = 0.8
RESAMPLES = 10_000
SEED = 0

METHODS = {
    "pass_rate": "Wilson score interval, 95%",
    "mean_score": f"percentile bootstrap, {RESAMPLES} resamples, seed {SEED}, 95%",
    "pass_rate_difference": "Newcombe hybrid score interval (Newcombe 1998, method 10), 95%, B minus A",
    "mean_score_difference": f"percentile bootstrap of mean(B) - mean(A), {RESAMPLES} resamples, seed {SEED}, 95%",
    "repeats_needed": "normal-approximation sample size per side, two-sided alpha 0.05, power 0.8, at the observed values",
    "independent_results": "copies of one answer (greedy or seeded repeats, cache hits) count once",
    "result_score": "mean of the result's scored checks (0-1)",
}


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n``; ValueError if n < 1.

    centre (p + z²/2n) / (1 + z²/n), half-width z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²).
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Exactly 0 and 1 at the ends, where rounding would leave 1e-17.
    return (0.0 if successes == 0 else centre - half), (1.0 if successes == n else centre + half)


def newcombe(successes_a: int, n_a: int, successes_b: int, n_b: int,
             confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_B - p_A, from the two Wilson intervals."""
    p_a, p_b = successes_a / n_a, successes_b / n_b
    lo_a, hi_a = wilson(successes_a, n_a, confidence)
    lo_b, hi_b = wilson(successes_b, n_b, confidence)
    d = p_b - p_a
    return d - math.hypot(p_b - lo_b, hi_a - p_a), d + math.hypot(hi_b - p_b, p_a - lo_a)


def _resampled_means(values: Sequence[float], rng, resamples: int):
    import numpy as np

    data = np.asarray(values, dtype=float)
    out = np.empty(resamples)
    step = max(1, 4_000_000 // len(data))  # bounded memory: at most ~32 MB of indices at once
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        out[start:start + count] = data[rng.integers(0, len(data), (count, len(data)))].mean(axis=1)
    return out


def _percentiles(samples, confidence: float) -> tuple[float, float]:
    import numpy as np

    alpha = 1 - confidence
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_mean(values: Sequence[float], confidence: float = CONFIDENCE, *, resamples: int = RESAMPLES,
                   seed: int = SEED) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean; None for fewer than 2 values."""
    import numpy as np

    if len(values) < 2:
        return None
    return _percentiles(_resampled_means(values, np.random.default_rng(seed), resamples), confidence)


def bootstrap_mean_difference(values_a: Sequence[float], values_b: Sequence[float],
                              confidence: float = CONFIDENCE, *, resamples: int = RESAMPLES,
                              seed: int = SEED) -> tuple[float, float] | None:
    """Percentile bootstrap interval of mean(B) - mean(A), each side resampled independently."""
    import numpy as np

    if len(values_a) < 2 or len(values_b) < 2:
        return None
    rng = np.random.default_rng(seed)
    a = _resampled_means(values_a, rng, resamples)
    b = _resampled_means(values_b, rng, resamples)
    return _percentiles(b - a, confidence)


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
        """independent, passed, checked, pass_rate, pass_rate_ci, scored, mean_score, mean_score_ci."""
        k, n = sum(self.passes), len(self.passes)
        return {
            "independent": self.independent,
            "passed": k,
            "checked": n,
            "pass_rate": k / n if n else None,
            "pass_rate_ci": list(wilson(k, n)) if n else None,
            "scored": len(self.scores),
            "mean_score": fmean(self.scores) if self.scores else None,
            "mean_score_ci": _list(bootstrap_mean(self.scores)),
        }


def _list(interval: tuple[float, float] | None) -> list[float] | None:
    return list(interval) if interval is not None else None


def _sd(values: list[float]) -> float:
    m = fmean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0


def _direction(interval: list[float] | None) -> str | None:
    if interval is None:
        return None
    if interval[0] > 0:
        return "B"
    if interval[1] < 0:
        return "A"
    return ""


def verdict(a: Sample, b: Sample) -> dict:
    """B against A: differences with their intervals, and the verdict in words.

    ``verdict`` is "B better", "A better", "no clear difference (...)" or "not comparable (...)".
    """
    out: dict = {"pass_rate_difference": None, "pass_rate_difference_ci": None,
                 "mean_score_difference": None, "mean_score_difference_ci": None, "repeats_needed": None}
    needed = []
    if a.passes and b.passes:
        ka, na, kb, nb = sum(a.passes), len(a.passes), sum(b.passes), len(b.passes)
        out["pass_rate_difference"] = kb / nb - ka / na
        out["pass_rate_difference_ci"] = list(newcombe(ka, na, kb, nb))
        needed.append(n_for_proportions(ka / na, kb / nb))
    if len(a.scores) >= 2 and len(b.scores) >= 2:
        ma, mb = fmean(a.scores), fmean(b.scores)
        out["mean_score_difference"] = mb - ma
        out["mean_score_difference_ci"] = _list(bootstrap_mean_difference(a.scores, b.scores))
        needed.append(n_for_means(ma, mb, _sd(a.scores), _sd(b.scores)))
    if not needed:
        out["verdict"] = "not comparable (no checked results on one side)"
        return out
    sides = {_direction(out["pass_rate_difference_ci"]), _direction(out["mean_score_difference_ci"])} - {None, ""}
    if len(sides) == 1:
        out["verdict"] = f"{sides.pop()} better"
        return out
    if len(sides) == 2:
        out["verdict"] = "no clear difference (pass rate and mean score disagree)"
        return out
    wanted = [n for n in needed if n is not None]
    if not wanted:
        out["verdict"] = "no clear difference (A and B are equal here)"
        return out
    # At least one more than there is: the interval already failed to tell at today's n.
    n = max(min(wanted), max(len(a.passes), len(b.passes), len(a.scores), len(b.scores)) + 1)
    repeats = math.ceil(n / max(a.units, b.units))
    out["repeats_needed"] = repeats
    greedy = "; greedy repeats are copies: sample with temperature > 0" if (a.greedy or b.greedy) else ""
    out["verdict"] = f"no clear difference (n too small: ~{repeats} repeats would tell{greedy})"
    return out
