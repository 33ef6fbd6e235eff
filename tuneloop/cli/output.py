"""How commands talk: rich for people, stable JSON for scripts, errors on stderr.

Text from people and models goes to the terminal through `tuneloop.terminal.literal`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from curation.errors import CurationError, ValidationError
from tuneloop.errors import ConfigError
from tuneloop.terminal import literal

# No emoji codes on either console: `:smile:` in a person's text is a word. soft_wrap: never
# break a path or id across lines.
console = Console(soft_wrap=True, emoji=False)
errors = Console(stderr=True, emoji=False)


class SecretRedactingFilter(logging.Filter):
    """Redacts secrets from a record's message (and its traceback text) before a handler
    writes it, so no log line carries one, whatever the code that logged it. String arguments
    are redacted before they are formatted too: `%r` escapes line breaks and quotes, and a
    secret that spans lines (a netrc entry) is found in the text, not in its repr."""

    def filter(self, record: logging.LogRecord) -> bool:
        from curation.scrub import redact_secrets

        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.args, Mapping):
            record.args = {
                key: redact_secrets(arg) if isinstance(arg, str) else arg
                for key, arg in record.args.items()
            }
        message = record.getMessage()
        cleaned = redact_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        return True


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log lines on stderr for the long-running commands (serve, scheduler, local-openai):
    plain and timestamped, or with `fmt` "json" one JSON object a line (TUNELOOP_LOG_FORMAT),
    which log collectors read as they are; secrets in them are redacted."""
    from tuneloop.logs import log_formatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter("json" if fmt == "json" else "text"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretRedactingFilter) for f in handler.filters):
            handler.addFilter(SecretRedactingFilter())


#: Set while a command given --json runs: its errors are then a JSON object on stdout too.
_errors_as_json: ContextVar[bool] = ContextVar("tuneloop_errors_as_json", default=False)


def _json_chosen(value: bool) -> bool:
    """The --json option's callback: from here on, `fail` answers in JSON as well. (A
    callback runs while the command's options are parsed, before any code of the command, so
    a setting that fails to load is answered in JSON too.)"""
    if value:
        _errors_as_json.set(True)
    return value


def json_option(help: str = "Machine-readable output.") -> Any:
    """The `--json` option of every command that has one: its output, and its errors
    ({"error": message, "problems": [...]} on stdout, with the same exit status), as JSON."""
    return typer.Option(False, "--json", help=help, callback=_json_chosen)


@contextmanager
def json_errors_reset() -> Iterator[None]:
    """Around one command: --json of an earlier command in the same process does not carry
    over (tests and `app()` callers run several)."""
    token = _errors_as_json.set(False)
    try:
        yield
    finally:
        _errors_as_json.reset(token)


def error_json(message: str, problems: list[str] | None = None) -> dict[str, Any]:
    """The JSON shape of an error: what went wrong, and each problem (a rule and where)."""
    return {"error": message, "problems": list(problems or [])}


def print_json(value: Any) -> None:
    """JSON on stdout with sorted keys, so scripts and diffs see a stable shape."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def fail(
    message: str,
    problems: list[str] | None = None,
    code: int = 1,
    details: dict[str, Any] | None = None,
) -> NoReturn:
    """Say what went wrong on stderr (each problem on its own line) and exit with `code`;
    under --json, also as a JSON object on stdout (`error_json`, with `details`' keys: what
    the command did before it failed)."""
    if _errors_as_json.get():
        print_json({**(details or {}), **error_json(message, problems)})
    errors.print(Text.assemble(("error: ", "bold red"), literal(message)), soft_wrap=True)
    for problem in problems or []:
        errors.print(Text("  - ") + literal(problem), soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """A warning on stderr; the command goes on."""
    errors.print(Text.assemble(("warning: ", "bold yellow"), literal(message)), soft_wrap=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the store's refusals into a clear message and exit status 1 (no traceback)."""
    try:
        yield
    except ValidationError as exc:
        fail(str(exc).split("\n", 1)[0], exc.problems)
    except CurationError as exc:
        fail(str(exc))


@contextmanager
def reported_failures() -> Iterator[None]:
    """Around every command: a setting tuneloop cannot use, a refusal of the store and a
    database that fails mid-command end in a message and exit status 1, never a traceback.
    (Other exceptions are bugs, and keep their traceback.)"""
    try:
        with reported_errors():
            yield
    except ConfigError as exc:
        several = len(exc.problems) > 1
        fail(str(exc).split(": ", 1)[0] if several else str(exc), exc.problems if several else [])
    except Exception as exc:
        sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
        if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.OperationalError):
            raise
        fail(f"the database failed: {' '.join(str(exc.orig or exc).split())}")
