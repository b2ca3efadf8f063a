"""Summaries of repeated measurements: median and spread, percentiles, observed scaling exponents."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def summary(values: Iterable[float]) -> dict:
    """Median, min, max and count of the repetitions (spread = max - min)."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(data), "min": data[0], "max": data[-1], "n": len(data)}


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks."""
    data = sorted(values)
    if not data:
        return None
    rank = (len(data) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def exponent(points: Iterable[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) over log(x): y grows like x^slope. None with < 2 usable points."""
    pairs = [(math.log(x), math.log(y)) for x, y in points if x and y and x > 0 and y > 0]
    if len({x for x, _ in pairs}) < 2:
        return None
    mx = sum(x for x, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    return (sum((x - mx) * (y - my) for x, y in pairs)
            / sum((x - mx) ** 2 for x, _ in pairs))
