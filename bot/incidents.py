"""Errors shown to people outside the server: a short sentence and an error id, never the
exception's text (which may name database hosts, ports, URLs with passwords). The details go
to the log under the same id, so whoever runs the bot can find them."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt import Respond

log = logging.getLogger("tuneloop.bot")


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


def listener_failed(error: Exception, body: dict[str, Any], respond: Respond | None = None) -> None:
    """Bolt's error handler (`app.error`): a listener raised. Logged with an error id in
    place of Bolt's default line (which quotes the error); the person who clicked, typed a
    command or ran a shortcut is told, with the id, through the request's response URL
    (a view submission has none: Slack shows its own error in the modal)."""
    kind = str(body.get("type") or body.get("command") or "request")[:40]
    error_id = new_error_id()
    log.error("a %s listener failed [error id %s]", kind, error_id, exc_info=error)
    if respond is None or not body.get("response_url"):
        return
    try:
        respond(
            text=":warning: " + incident_text("Sorry, that did not work", error_id),
            response_type="ephemeral",
            replace_original=False,
        )
    except Exception:
        log.warning("could not tell the person about error %s", error_id, exc_info=True)
