"""Errors the store raises. Each names what was wrong and where, for people and for scripts."""

from __future__ import annotations


class CurationError(Exception):
    """Base class: a request the store refused, with a message fit to show a person."""


class NotFoundError(CurationError):
    """A referenced row (review item, exchange, example) does not exist."""


class PermissionDeniedError(CurationError):
    """The actor is not allowed to do this (for example, not a configured reviewer)."""


class InvalidTransitionError(CurationError):
    """A review decision that the item's current state does not allow."""


class ValidationError(CurationError):
    """Input that breaks a rule; `problems` lists each broken rule and where."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{message}{detail}{more}")


class SchemaOutOfDateError(CurationError):
    """The database is behind the code's migrations."""


class EncodingUnavailableError(CurationError):
    """tiktoken cannot load an encoding's file (it downloads them on first use; offline
    machines point TIKTOKEN_CACHE_DIR at a folder that holds them)."""


class ChangedSinceSeenError(CurationError):
    """A decision on a review item whose correction changed after the reviewer was shown it: a
    decision applies only to the text the reviewer saw. `current`: the item's version now."""

    def __init__(self, message: str, current: int) -> None:
        super().__init__(message)
        self.current = current


class RateLimitedError(CurationError):
    """Too many corrections from one person, or on one reply, in the limit's window.
    `retry_after_seconds`: when the oldest counted one leaves the window."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
