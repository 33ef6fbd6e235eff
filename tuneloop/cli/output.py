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


def configure_logging(level: str, fmt: str = "text") -> None:
    """Log lines on stderr for the long-running commands (serve, scheduler, local-openai):
    plain and timestamped, or with `fmt` "json" one JSON object a line (TUNELOOP_LOG_FORMAT),
    which log collectors read as they are."""
    from tuneloop.logs import log_formatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter("json" if fmt == "json" else "text"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


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
