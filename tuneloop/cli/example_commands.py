"""`tuneloop examples ...`: look at curated examples and retire bad ones."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from curation.errors import NotFoundError, ValidationError
from tuneloop.cli.app import app
from tuneloop.cli.output import console, json_option, print_json, reported_errors
from tuneloop.terminal import labelled, literal, one_line

if TYPE_CHECKING:
    from curation.db import Database
    from curation.models import Example

examples_app = typer.Typer(help="Curated examples.", no_args_is_help=True)
app.add_typer(examples_app, name="examples")


def _as_dict(example: Example) -> dict[str, Any]:
    return {
        "id": example.id,
        "source": example.source.value,
        "split": example.split.value,
        "golden": example.golden,
        "messages": example.messages,
        "target": example.target,
        "rejected": example.rejected,
        "approved_by": example.approved_by,
        "created_at": example.created_at.isoformat(),
        "retired_at": example.retired_at.isoformat() if example.retired_at else None,
        "retired_reason": example.retired_reason,
    }


def _get(db: Database, example_id: int) -> Example:
    from curation.models import Example

    with db.read_session() as session:
        example = session.get(Example, example_id)
    if example is None:
        raise NotFoundError(f"example {example_id} does not exist")
    return example


class ListSplit(StrEnum):
    """curation.models.Split, written out here (importing curation.models loads SQLAlchemy,
    which `tuneloop --help` must not wait for)."""

    train = "train"
    eval = "eval"


class ListSource(StrEnum):
    """curation.models.ExampleSource, written out here (see ListSplit)."""

    seed = "seed"
    correction = "correction"
    upvote = "upvote"
    import_ = "import"


@examples_app.command("list")
def examples_list(
    split: ListSplit | None = typer.Option(None, help="Only this split: train or eval."),
    source: ListSource | None = typer.Option(
        None, help="Only examples from: seed, correction, upvote or import."
    ),
    retired: bool = typer.Option(False, "--retired", help="The retired examples instead."),
    limit: int = typer.Option(20, help="How many, newest first (at most 1000)."),
    as_json: bool = json_option(),
) -> None:
    """Curated examples, newest first: their ids for `examples show` and `examples retire`."""
    from curation.examples import list_examples
    from curation.models import ExampleSource, Split
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database

    with reported_errors():
        db = open_database(load_settings(), existing=True)
        with db.read_session() as session:
            found = [
                _as_dict(example)
                for example in list_examples(
                    session,
                    split=Split(split.value) if split else None,
                    source=ExampleSource(source.value) if source else None,
                    retired=retired,
                    limit=limit,
                )
            ]
    if as_json:
        print_json({"examples": found})
        return
    if not found:
        console.print("no examples match")
        return
    table = Table("id", "split", "source", "question", "reply", box=None, expand=True)
    for example in found:
        question = next(
            (m.get("content") for m in reversed(example["messages"]) if m.get("role") == "user"),
            "",
        )
        split_shown = "golden" if example["golden"] else example["split"]
        table.add_row(
            str(example["id"]),
            split_shown,
            example["source"],
            literal(one_line(question)),
            literal(one_line(example["target"])),
        )
    console.print(table)


@examples_app.command("show")
def examples_show(example_id: int, as_json: bool = json_option()) -> None:
    """One example in full."""
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database

    with reported_errors():
        data = _as_dict(_get(open_database(load_settings(), existing=True), example_id))
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(labelled(key, value))


@examples_app.command("retire")
def examples_retire(
    example_ids: list[int] = typer.Argument(..., help="Example ids."),
    reason: str = typer.Option(..., help="Why (required; kept for the audit)."),
) -> None:
    """Take examples out of every future export (a poisoned batch, say). Nothing is deleted."""
    from curation.examples import retire_example
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database

    db = open_database(load_settings(), existing=True)  # (nothing to retire in a new one)
    with reported_errors():
        if not reason.strip():
            raise ValidationError("a reason is required", ["--reason"])
        with db.session() as session:
            for example_id in example_ids:
                retire_example(session, example_id, reason=reason.strip())
    console.print(f"retired {len(example_ids)} example(s); the next export leaves them out")
