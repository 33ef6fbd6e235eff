"""`tuneloop init`: a team's starting folder."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import console, fail, warn
from tuneloop.terminal import literal


class InitTrainer(StrEnum):
    """The backends a team's folder can start on."""

    lora = "lora"
    together = "together"
    openai = "openai"


@app.command("init", short_help="Write a team's starting folder.")
def init(
    folder: Path = typer.Argument(Path("."), help="The folder to write (created if needed)."),
    team: str | None = typer.Option(
        None, "--team", help="The team's name, for the system prompt (default: the folder's)."
    ),
    trainer: InitTrainer = typer.Option(
        InitTrainer.lora,
        "--trainer",
        help="The training backend: lora (self-hosted, no end date), together (Together AI's "
        "hosted LoRA) or openai (its fine-tuning closes in January 2027).",
    ),
) -> None:
    """Write a team's starting folder: a system prompt to edit, an empty training file, an
    empty golden set with a template beside it, a `.env` that points tuneloop at them, and
    short instructions (README.md). Files already there are kept.

    Run the other commands from that folder. It starts on the self-hosted lora backend:
    OpenAI's fine-tuning takes no new jobs after 2027-01-06 and its base models retire on
    2027-01-14, and the gate refuses a model that shuts down within 30 days."""
    from tuneloop.team_folder import WHY_LORA, write_team_folder

    name = team or folder.resolve().name or "your team"
    try:
        written = write_team_folder(folder, team=name, trainer=trainer.value)
    except OSError as exc:
        fail(f"cannot write the team folder {folder}: {exc}")
    for path in written.written:
        console.print(literal(f"wrote {path}"))
    for path in written.kept:
        console.print(literal(f"kept {path} (already there)"))
    if trainer is InitTrainer.openai:
        warn(f"{WHY_LORA}: use --trainer lora for a bot that keeps learning.")
    steps = "" if folder.resolve() == Path.cwd() else f"cd {folder}; "
    console.print(
        literal(
            f"next: {steps}follow {folder / 'README.md'} (system prompt, examples, golden set, "
            "then `tuneloop seeds import`)"
        ),
        soft_wrap=True,
    )
