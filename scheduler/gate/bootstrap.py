"""Paired bootstrap of the win rate, resampling whole conversation threads.

Items from one thread are not independent (the same topic, often the same wording), so
resampling single items would understate the uncertainty. Each resample draws threads with
replacement and takes the pooled win rate of their items; the bound is a percentile of those
rates. The generator is seeded, so the same items always give the same decision.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable


def clustered_bootstrap_lower_bound(
    values: Iterable[tuple[str, float]],
    *,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> float:
    """The lower end of the two-sided `confidence` percentile interval of the mean value.

    `values` are (cluster key, value) pairs; a value is 1 for a win, 0.5 a tie, 0 a loss.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key, value in values:
        sums[key] = sums.get(key, 0.0) + value
        counts[key] = counts.get(key, 0) + 1
    if not sums:
        raise ValueError("no values to resample")
    keys = sorted(sums)
    cluster_sums = [sums[k] for k in keys]
    cluster_counts = [counts[k] for k in keys]
    k = len(keys)
    rng = random.Random(seed)
    rates = []
    for _ in range(samples):
        picks = rng.choices(range(k), k=k)
        total = math.fsum(cluster_sums[i] for i in picks)
        count = sum(cluster_counts[i] for i in picks)
        rates.append(total / count)
    rates.sort()
    alpha = (1 - confidence) / 2
    return rates[min(samples - 1, math.floor(alpha * samples))]
