"""The `tuneloop` Typer application that every command module adds itself to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tuneloop",
    help="Serve your team's fine-tuned model in Slack, curate corrections, retrain behind a gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
