"""Summaries of repeated measurements: mean, sample standard deviation, p50 and p90."""
from __future__ import annotations

import statistics


def summary(values: list[float]) -> dict:
    """``{"mean", "stdev", "p50", "p90", "n"}`` of one or more values.

    Percentiles interpolate linearly between closest ranks (numpy's default, Hyndman & Fan
    type 7); stdev is the sample standard deviation, None for a single value. Raises
    ValueError when ``values`` is empty.
    """
    import numpy as np

    if not values:
        raise ValueError("no values to summarise")
    p50, p90 = np.percentile(values, [50, 90])
    return {
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else None,
        "p50": float(p50),
        "p90": float(p90),
        "n": len(values),
    }
