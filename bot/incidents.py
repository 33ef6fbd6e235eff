"""Errors shown to people outside the server: a short sentence and an error id, never the
exception's text (which may name database hosts, ports, URLs with passwords). The details go
to the log under the same id, so whoever runs the bot can find them."""

from __future__ import annotations

import logging
import secrets


def new_error_id() -> str:
    """A short id that is unique enough to find one log line (8 hex digits)."""
    return secrets.token_hex(4)


def report_incident(log: logging.Logger, what: str) -> str:
    """Log the exception being handled, with `what` and a fresh error id; return the id.
    Call it from an `except` block."""
    error_id = new_error_id()
    log.exception("%s [error id %s]", what, error_id)
    return error_id


def incident_text(what: str, error_id: str) -> str:
    """`what` failed, in words for the person who asked: the id to quote, no internals."""
    return f"{what} (error id `{error_id}`; the details are in the bot's log)."
