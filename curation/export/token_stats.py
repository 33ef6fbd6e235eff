"""Token statistics in constant memory: totals, extremes and a power-of-two histogram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenStats:
    count: int = 0
    total: int = 0
    minimum: int | None = None
    maximum: int | None = None
    #: bucket upper bound (a power of two) -> number of examples at or under it
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, tokens: int) -> None:
        self.count += 1
        self.total += tokens
        self.minimum = tokens if self.minimum is None else min(self.minimum, tokens)
        self.maximum = tokens if self.maximum is None else max(self.maximum, tokens)
        bucket = 1 << max(tokens - 1, 0).bit_length()
        self.histogram[bucket] = self.histogram.get(bucket, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.count,
            "total": self.total,
            "min": self.minimum or 0,
            "max": self.maximum or 0,
            "mean": round(self.total / self.count, 2) if self.count else 0,
            "histogram": {f"<={k}": self.histogram[k] for k in sorted(self.histogram)},
        }
