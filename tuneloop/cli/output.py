"""How commands talk: rich for people, stable JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from curation.errors import CurationError, ValidationError

console = Console(soft_wrap=True)  # never break a path or id across lines
errors = Console(stderr=True)


class SecretRedactingFilter(logging.Filter):
    """Redacts secrets from a record's message (and its traceback text) before a handler
    writes it, so no log line carries one, whatever the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from curation.scrub import redact_secrets

        message = record.getMessage()
        cleaned = redact_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True


def configure_logging(level: str) -> None:
    """Plain, timestamped log lines on stderr for the long-running commands (serve, scheduler,
    local-openai), which log collectors read as they are; secrets in them are redacted."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretRedactingFilter) for f in handler.filters):
            handler.addFilter(SecretRedactingFilter())


def print_json(value: Any) -> None:
    """JSON on stdout with sorted keys, so scripts and diffs see a stable shape."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def fail(message: str, problems: list[str] | None = None, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    for problem in problems or []:
        errors.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the store's refusals into a clear message and exit status 1 (no traceback)."""
    try:
        yield
    except ValidationError as exc:
        fail(str(exc).split("\n", 1)[0], exc.problems)
    except CurationError as exc:
        fail(str(exc))
