"""TUNELOOP_LOG_FORMAT: plain lines, or one JSON object a line that a log collector parses."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tuneloop.logs import TEXT_FORMAT, log_formatter
from tuneloop.settings import Settings


def _logger(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(fmt))  # type: ignore[arg-type]
    logger = logging.getLogger(f"tuneloop.test.{fmt}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_lines_carry_time_level_logger_message_extras_and_tracebacks() -> None:
    logger, stream = _logger("json")
    logger.info("cycle %s: %s", 7, "train", extra={"cycle_id": 7})
    try:
        raise RuntimeError('a "quoted"\nmultiline failure')
    except RuntimeError:
        logger.exception("the decision notifier failed for cycle %s", 7)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # a traceback stays inside its line
    info, error = (json.loads(line) for line in lines)
    assert info["message"] == "cycle 7: train" and info["cycle_id"] == 7
    assert (info["level"], info["logger"]) == ("INFO", "tuneloop.test.json")
    assert info["time"].endswith("+00:00")  # ISO 8601, UTC
    assert error["level"] == "ERROR"
    assert 'RuntimeError: a "quoted"\nmultiline failure' in error["exc_info"]


def test_text_lines_stay_plain() -> None:
    logger, stream = _logger("text")
    logger.warning("lost the scheduler lease; standing by")
    assert log_formatter("text")._fmt == TEXT_FORMAT
    assert (
        stream.getvalue()
        .rstrip()
        .endswith("WARNING tuneloop.test.text: lost the scheduler lease; standing by")
    )


def test_the_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELOOP_LOG_FORMAT", "JSON")
    assert Settings().log_format == "json"
    monkeypatch.setenv("TUNELOOP_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="TUNELOOP_LOG_FORMAT"):
        Settings()
