"""Faults injected on demand, per stand-in instance, so callers can test how they cope.

Request faults (latency, 429, 5xx) apply to every API call, or only to paths starting with one
of `only_paths` (for example `("/chat/completions",)`). Job faults are drawn when a job is
created and stored with it, so they survive a restart: the next N jobs fail while running, or
never finish. All of it can be changed while the stand-in runs; a lock keeps counters exact
when requests arrive on several threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from tuneloop.local_openai.errors import ApiError, permission_denied, rate_limited, server_error

JobFault = Literal["fail", "stall"]

DEFAULT_FORBIDDEN_MESSAGE = (
    "You are not allowed to create fine-tuning jobs. OpenAI stopped accepting new fine-tuning "
    "jobs after 2027-01-06 (injected by the local stand-in)."
)


@dataclass
class Faults:
    """What to break, and for how many calls or jobs."""

    latency_s: float = 0.0
    rate_limited_calls: int = 0
    retry_after_s: float = 1.0
    server_error_calls: int = 0
    server_error_status: int = 500
    failing_jobs: int = 0
    stalled_jobs: int = 0
    job_creation_forbidden: bool = False
    forbidden_message: str = DEFAULT_FORBIDDEN_MESSAGE
    only_paths: tuple[str, ...] = ()
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    # --- configuring ------------------------------------------------------------------------
    def rate_limit(self, calls: int, *, retry_after_s: float = 1.0) -> None:
        """Answer the next `calls` API calls with 429 and a `retry-after`."""
        with self._lock:
            self.rate_limited_calls = calls
            self.retry_after_s = retry_after_s

    def fail_requests(self, calls: int, *, status: int = 500) -> None:
        """Answer the next `calls` API calls with a server error (500, 502, 503...)."""
        if not 500 <= status <= 599:
            raise ValueError("status must be a 5xx code")
        with self._lock:
            self.server_error_calls = calls
            self.server_error_status = status

    def fail_next_jobs(self, jobs: int = 1) -> None:
        """The next `jobs` fine-tuning jobs fail halfway through running."""
        with self._lock:
            self.failing_jobs = jobs

    def stall_next_jobs(self, jobs: int = 1) -> None:
        """The next `jobs` fine-tuning jobs stay `running` for ever."""
        with self._lock:
            self.stalled_jobs = jobs

    def forbid_job_creation(self, message: str = DEFAULT_FORBIDDEN_MESSAGE) -> None:
        """Refuse new fine-tuning jobs with 403, as OpenAI will after its cut-off."""
        with self._lock:
            self.job_creation_forbidden = True
            self.forbidden_message = message

    def clear(self) -> None:
        """No more faults."""
        with self._lock:
            self.latency_s = 0.0
            self.rate_limited_calls = self.server_error_calls = 0
            self.failing_jobs = self.stalled_jobs = 0
            self.job_creation_forbidden = False
            self.only_paths = ()

    # --- consulted by the stand-in ------------------------------------------------------------
    def applies_to(self, path: str) -> bool:
        return not self.only_paths or any(path.startswith(prefix) for prefix in self.only_paths)

    def take_request_fault(self, path: str) -> ApiError | None:
        """The error this call must get, if any (consumes one from the counters)."""
        if not self.applies_to(path):
            return None
        with self._lock:
            if self.rate_limited_calls > 0:
                self.rate_limited_calls -= 1
                return rate_limited(self.retry_after_s)
            if self.server_error_calls > 0:
                self.server_error_calls -= 1
                return server_error(self.server_error_status)
        return None

    def latency_for(self, path: str) -> float:
        return self.latency_s if self.latency_s > 0 and self.applies_to(path) else 0.0

    def job_creation_error(self) -> ApiError | None:
        with self._lock:
            return (
                permission_denied(self.forbidden_message) if self.job_creation_forbidden else None
            )

    def take_job_fault(self) -> JobFault | None:
        """The fault a new job carries, if any."""
        with self._lock:
            if self.failing_jobs > 0:
                self.failing_jobs -= 1
                return "fail"
            if self.stalled_jobs > 0:
                self.stalled_jobs -= 1
                return "stall"
        return None
