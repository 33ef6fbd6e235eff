"""Why a training job could not be started, and what the cycle should do about it."""

from __future__ import annotations

from datetime import datetime

from scheduler.errors import SchedulerError

FINE_TUNING_WIND_DOWN = (
    "The provider refused to create a fine-tuning job (HTTP 403). OpenAI is winding down "
    "self-serve fine-tuning: it accepts no new fine-tuning jobs after 2027-01-06, and it "
    "retires the gpt-4o, gpt-4o-mini, gpt-4.1 and gpt-4.1-mini base models and their "
    "fine-tunes on 2027-01-14. tuneloop keeps serving the current model. To keep retraining, "
    "point OPENAI_BASE_URL at another OpenAI-compatible fine-tuning service, or add a trainer "
    "for another backend (scheduler.training.Trainer)."
)


class TrainingUnavailable(SchedulerError):
    """The provider will not create fine-tuning jobs for us (403): retrying will not help."""

    code = "fine_tuning_unavailable"

    def __init__(self, provider_message: str) -> None:
        self.provider_message = provider_message
        super().__init__(f"{FINE_TUNING_WIND_DOWN} The provider said: {provider_message}")


class TrainingRateLimited(SchedulerError):
    """429: a rate or daily limit. The cycle waits for its next run, then tries again."""

    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message)


class TrainingTransientError(SchedulerError):
    """A 5xx, timeout or dropped connection: the next poll tries again."""
