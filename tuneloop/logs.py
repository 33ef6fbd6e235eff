"""Log lines for the long-running commands: plain text for people, or one JSON object a line
(python-json-logger) for log collectors (TUNELOOP_LOG_FORMAT=json)."""

from __future__ import annotations

import logging
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_formatter(fmt: LogFormat) -> logging.Formatter:
    """`json`: {"time": ISO 8601 UTC, "level", "logger", "message"}, plus `exc_info` (the
    traceback as one string) and any `extra=` fields; `text`: TEXT_FORMAT."""
    if fmt == "json":
        return JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)
