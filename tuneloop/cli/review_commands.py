"""`tuneloop review ...`: the reviewer's queue, under the same rules as the Slack App Home."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from tuneloop.cli.app import app
from tuneloop.cli.output import console, fail, json_option, print_json, reported_errors
from tuneloop.terminal import labelled, literal, one_line

if TYPE_CHECKING:
    from curation.review import ReviewView
    from curation.store import Store
    from tuneloop.settings import Settings

review_app = typer.Typer(
    help="Decide on flagged, corrected and upvoted replies.", no_args_is_help=True
)
app.add_typer(review_app, name="review")

REVIEWER_OPTION = typer.Option(
    None,
    "--reviewer",
    "-r",
    envvar="TUNELOOP_REVIEWER",
    help="Your reviewer id (one of TUNELOOP_REVIEWERS); defaults to the only reviewer.",
)
JSON_OPTION = json_option()
SEEN_OPTION = typer.Option(
    None,
    "--seen",
    help="The item's version as `review show` (or `list`) printed it: the decision is refused "
    "if a newer correction arrived since you looked.",
)


def _reviewer(settings: Settings, given: str | None) -> str:
    if given:
        return given
    if len(settings.reviewers) == 1:
        return settings.reviewers[0]
    if not settings.reviewers:
        fail("no reviewers are configured: set TUNELOOP_REVIEWERS")
    fail("several reviewers are configured: say which you are with --reviewer")


def _view_dict(view: ReviewView) -> dict[str, Any]:
    data = asdict(view)
    data["kind"], data["state"] = view.kind.value, view.state.value
    return data


def _store() -> tuple[Settings, Store]:
    """The settings and the store, which must exist: a new one holds nothing to review."""
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database, open_store

    settings = load_settings()
    with reported_errors():
        return settings, open_store(settings, open_database(settings, existing=True))


#: Below this terminal width, `review list` drops its low-value columns (version, by,
#: opened: `review show` has them) and folds the texts, so the texts stay readable.
NARROW = 120


@review_app.command("list")
def review_list(
    state: str = typer.Option("pending", help="pending, needs_edit, approved, rejected or all."),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON_OPTION,
) -> None:
    """The queue, oldest first."""
    from curation.models import ReviewState

    _, store = _store()
    if state != "all" and state not in {s.value for s in ReviewState}:
        fail(f"unknown state {state!r}: use pending, needs_edit, approved, rejected or all")
    views = store.review.list(None if state == "all" else ReviewState(state), limit)
    if as_json:
        print_json({"items": [_view_dict(v) for v in views]})
        return
    if not views:
        console.print(f"no {state} review items")
        return
    narrow = console.width < NARROW
    table = Table(box=None if narrow else box.HEAVY_HEAD)
    table.add_column("id", no_wrap=True)
    if not narrow:
        table.add_column("version")
    table.add_column("kind", no_wrap=narrow)
    table.add_column("state", no_wrap=narrow)
    for header in ("question", "reply", "correction"):
        # Folded at narrow widths (whole words, several lines), never cut to a few letters.
        table.add_column(header, overflow="fold", ratio=1, min_width=12)
    if not narrow:
        table.add_column("by")
        table.add_column("opened")
    for v in views:
        cut = 200 if narrow else 60  # narrow: folded over lines rather than cut short
        texts = [literal(one_line(t, cut)) for t in (v.question, v.reply, v.correction)]
        row = [str(v.id), *([] if narrow else [str(v.version)]), v.kind.value, v.state.value]
        row += texts
        if not narrow:
            row += [literal(v.correction_by or v.opened_by), f"{v.opened_at:%Y-%m-%d %H:%M}"]
        table.add_row(*row)
    console.print(table)


@review_app.command("show")
def review_show(item_id: int, as_json: bool = JSON_OPTION) -> None:
    """One item in full, with its history."""
    _, store = _store()
    with reported_errors():
        view = store.review.get(item_id)
        history = store.review.history(item_id)
    events = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "from": e.from_state,
            "to": e.to_state,
            "reason": e.reason,
        }
        for e in history
    ]
    if as_json:
        print_json({**_view_dict(view), "history": events})
        return
    console.print(
        Text.assemble(
            (f"review item {view.id}", "bold"), f" ({view.kind.value}, {view.state.value})"
        )
    )
    for label, value in (
        ("question", view.question),
        ("reply", view.reply),
        ("model", view.model),
        ("correction", view.correction),
        ("correction by", view.correction_by),
        ("decided by", view.decided_by),
        ("reason", view.decision_reason),
        ("example", view.example_id),
        ("personal data", ", ".join(view.personal_data) or None),
        ("version", f"{view.version} (decide on what you see here with --seen {view.version})"),
    ):
        if value is not None:
            console.print(labelled(label, value))
    for e in events:
        console.print(literal(f"  {e['at']}  {e['actor']}  {e['action']}  {e['reason'] or ''}"))


KEEP_PERSONAL_DATA_OPTION = typer.Option(
    False,
    "--keep-personal-data",
    help="Train the reply with the personal data it holds (a reply meant to give it).",
)


def _approve(
    item_id: int,
    reviewer: str | None,
    reason: str | None,
    text: str | None,
    as_json: bool,
    keep_personal_data: bool,
    seen: int | None,
) -> None:
    settings, store = _store()
    actor = _reviewer(settings, reviewer)
    with reported_errors():
        approval = store.review.approve(
            item_id,
            actor,
            reason=reason,
            text=text,
            keep_personal_data=keep_personal_data,
            seen=seen,
        )
    if as_json:
        print_json({**_view_dict(approval.item), "example_created": approval.example_created})
        return
    note = "" if approval.example_created else " (identical to an existing example)"
    console.print(f"approved review item {item_id} as example {approval.example_id}{note}")
    trained = approval.item.correction or approval.item.reply or ""
    console.print(f"trained reply: {trained}", highlight=False, markup=False)


@review_app.command("approve")
def review_approve(
    item_id: int,
    reason: str | None = typer.Option(None, help="Why (optional)."),
    reviewer: str | None = REVIEWER_OPTION,
    as_json: bool = JSON_OPTION,
    keep_personal_data: bool = KEEP_PERSONAL_DATA_OPTION,
    seen: int | None = SEEN_OPTION,
) -> None:
    """Approve an item into a curated example (`--seen`: only as `review show` showed it)."""
    _approve(item_id, reviewer, reason, None, as_json, keep_personal_data, seen)


@review_app.command("edit", short_help="Write the reply as it should be, and approve it.")
def review_edit(
    item_id: int,
    text: str | None = typer.Option(None, help="The corrected reply."),
    file: Path | None = typer.Option(None, help="Read the corrected reply from a file."),
    reason: str | None = typer.Option(None, help="Why (optional)."),
    reviewer: str | None = REVIEWER_OPTION,
    as_json: bool = JSON_OPTION,
    keep_personal_data: bool = KEEP_PERSONAL_DATA_OPTION,
    seen: int | None = SEEN_OPTION,
) -> None:
    """Write the reply as it should be, and approve it (the App Home's Edit button)."""
    if (text is None) == (file is None):
        fail("give the corrected reply with exactly one of --text or --file")
    body = text if text is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    _approve(item_id, reviewer, reason, body, as_json, keep_personal_data, seen)


@review_app.command("reject")
def review_reject(
    item_id: int,
    reason: str = typer.Option(..., help="Why (required)."),
    reviewer: str | None = REVIEWER_OPTION,
    as_json: bool = JSON_OPTION,
    seen: int | None = SEEN_OPTION,
) -> None:
    """Reject an item: nothing is trained on it."""
    settings, store = _store()
    with reported_errors():
        view = store.review.reject(item_id, _reviewer(settings, reviewer), reason=reason, seen=seen)
    if as_json:
        print_json(_view_dict(view))
    else:
        console.print(f"rejected review item {item_id}")


@review_app.command("send-back", short_help="Send an item back for a new correction.")
def review_send_back(
    item_id: int,
    reason: str = typer.Option(..., help="What the correction needs (required)."),
    reviewer: str | None = REVIEWER_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Mark an item needs_edit: it returns to the queue when a new correction arrives."""
    settings, store = _store()
    with reported_errors():
        view = store.review.request_edit(item_id, _reviewer(settings, reviewer), reason=reason)
    if as_json:
        print_json(_view_dict(view))
    else:
        console.print(f"review item {item_id} needs an edit")
