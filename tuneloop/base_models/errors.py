"""Why a base model could not be provided."""

from __future__ import annotations


class BaseModelUnavailable(RuntimeError):
    """The base model cannot be provided here; the message says what to install or set."""
