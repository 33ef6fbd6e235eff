"""The `tuneloop` Typer application that every command module adds itself to."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # The context class TyperGroup.invoke declares: typer carries its own copy of click, so
    # click itself is never loaded.
    from typer import _click


class _Warnings(logging.Handler):
    """Settings' warnings (a misspelt TUNELOOP_* variable) on stderr, each once a command."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        from tuneloop.cli.output import warn

        message = record.getMessage()
        if message not in self.said:
            self.said.add(message)
            warn(message)


class TuneloopGroup(TyperGroup):
    """The top-level command group: while a command runs, settings' warnings go to stderr,
    and what a person got wrong becomes a message and exit status 1 (never a traceback)."""

    def invoke(self, ctx: _click.Context) -> Any:
        from tuneloop.cli.output import json_errors_reset, reported_failures

        # The command's settings are loaded inside it (and only if it needs them: `--help`
        # loads none), so their warnings are caught on the way rather than checked here.
        settings_log = logging.getLogger("tuneloop.settings")
        handler, propagate = _Warnings(), settings_log.propagate
        settings_log.addHandler(handler)
        settings_log.propagate = False
        try:
            with json_errors_reset(), reported_failures():
                return super().invoke(ctx)
        finally:
            settings_log.removeHandler(handler)
            settings_log.propagate = propagate


app = typer.Typer(
    name="tuneloop",
    cls=TuneloopGroup,
    help="Serve your team's fine-tuned model in Slack, curate corrections, retrain behind a gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tuneloop {version('tuneloop')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        expose_value=True,
        callback=_show_version,
        help="Show tuneloop's version and exit.",
    ),
) -> None:
    # A callback makes the options above the app's own; the help stays the app's.
    del version
