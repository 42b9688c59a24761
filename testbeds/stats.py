"""Summaries of measured samples for the benchmarks."""

from __future__ import annotations

import statistics


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary_ms(seconds: list[float], digits: int = 1) -> str:
    """'median .. ms, p90 .., p99 .., max .. over N' for samples given in seconds."""
    ms = [x * 1000 for x in seconds]
    f = f"{{:.{digits}f}}"
    return (f"median {f.format(statistics.median(ms))} ms, p90 {f.format(percentile(ms, 90))}, "
            f"p99 {f.format(percentile(ms, 99))}, max {f.format(max(ms))} over {len(ms)}")
