"""Prometheus metrics for `tuneloop serve` and `tuneloop scheduler` (prometheus-client).

`Metrics` holds what this process counts (Slack requests, replies and their latency, model
errors, scheduler leadership); `StoreCollector` reads, at each scrape, what the database
knows (review queue, feedback, corrections, the open cycle's stage, gate decisions, the active
model); `tuneloop.metrics.http` serves them at /metrics. bot/ and scheduler/ import none of
this: the composition root hands them callbacks.
"""

from tuneloop.metrics.instruments import Metrics
from tuneloop.metrics.store_collector import StoreCollector

__all__ = ["Metrics", "StoreCollector"]
