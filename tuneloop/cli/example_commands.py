"""`tuneloop examples ...`: look at curated examples and retire bad ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from curation.errors import NotFoundError, ValidationError
from tuneloop.cli.app import app
from tuneloop.cli.output import console, json_option, print_json, reported_errors
from tuneloop.terminal import labelled

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
