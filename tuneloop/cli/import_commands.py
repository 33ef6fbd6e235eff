"""`tuneloop seeds import` and `tuneloop import`: examples from chat JSONL files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import (
    console,
    errors,
    fail,
    json_option,
    print_json,
    reported_errors,
)
from tuneloop.terminal import literal

if TYPE_CHECKING:
    from curation.importing import ImportChecks, ImportReport
    from tuneloop.settings import Settings

seeds_app = typer.Typer(help="The data a new installation starts from.", no_args_is_help=True)
app.add_typer(seeds_app, name="seeds")
KEEP_PERSONAL_DATA = typer.Option(
    False,
    "--keep-personal-data",
    help="Keep replies that hold personal data (not on TUNELOOP_PII_ALLOW_LIST) and train them.",
)


def _checks(settings: Settings, keep_personal_data: bool) -> ImportChecks:
    from curation.importing import ImportChecks
    from tuneloop.wiring import example_limit, personal_data_policy

    return ImportChecks(
        limit=example_limit(settings),
        personal_data=personal_data_policy(settings),
        keep_personal_data=keep_personal_data,
    )


def _show(reports: list[ImportReport], as_json: bool) -> None:
    """Each file's report; a file not imported ends the command with status 1 (under --json,
    one object: the files, with the error and its problems when a file failed)."""
    files = {"files": [r.as_dict() for r in reports]}
    if as_json:
        if all(r.ok for r in reports):
            print_json(files)
    else:
        for r in reports:
            if r.ok:
                context = (
                    f"; {r.context_turns} earlier assistant turns without a weight kept as "
                    'context (weight 0: give them "weight": 1 to train them)'
                    if r.context_turns
                    else ""
                )
                console.print(
                    literal(f"{r.path}: {r.added} added, {r.already_present} already present")
                    + context
                )
    failed = [r for r in reports if not r.ok]
    if failed:
        fail(
            f"{len(failed)} file(s) not imported",
            [problem for r in failed for problem in r.problems],
            details=files,
        )


@seeds_app.command("import", short_help="Import a seeds folder (safe to repeat).")
def seeds_import(
    directory: Path | None = typer.Argument(
        None, help="Seeds folder (default: TUNELOOP_SEEDS_DIR)."
    ),
    sample: bool = typer.Option(
        False,
        "--sample",
        help="Import the sample company's seeds (Fernhill's IT/HR help desk) instead of your "
        "team's: for a try, not for your team's bot.",
    ),
    as_json: bool = json_option(),
    keep_personal_data: bool = KEEP_PERSONAL_DATA,
) -> None:
    """Import train.jsonl (training) and golden.jsonl (evaluation only). Safe to repeat."""
    from curation.importing import import_seeds
    from tuneloop.database import store_kept_if_used
    from tuneloop.settings import SAMPLE_SEEDS_DIR, load_settings

    settings = load_settings()
    if sample and directory is not None:
        fail("give a seeds folder or --sample, not both")
    seeds = SAMPLE_SEEDS_DIR if sample else directory or settings.seeds_dir
    if seeds is None:
        fail(
            "which seeds? Give your team's seeds folder (tuneloop seeds import DIR, or set "
            "TUNELOOP_SEEDS_DIR; `tuneloop init` writes one to start from), or --sample for "
            "the sample company's (Fernhill's help desk)"
        )
    if sample:
        errors.print(
            literal(
                f"importing the sample company's seeds ({SAMPLE_SEEDS_DIR}): Fernhill's help "
                "desk, not your team's"
            ),
            soft_wrap=True,
        )
    with reported_errors(), store_kept_if_used(settings) as store:
        reports = import_seeds(
            store.open(),
            seeds,
            eval_fraction=settings.eval_fraction,
            checks=_checks(settings, keep_personal_data),
        )
        store.used = any(r.added for r in reports)
    _show(reports, as_json)


@app.command("import", short_help="Bulk-import approved examples (safe to repeat).")
def import_file(
    file: Path = typer.Argument(..., help="Chat JSONL of approved examples."),
    as_json: bool = json_option(),
    keep_personal_data: bool = KEEP_PERSONAL_DATA,
) -> None:
    """Bulk-import approved examples; each is split train/eval by its thread. Safe to repeat."""
    from curation.importing import import_chat_file
    from tuneloop.database import store_kept_if_used
    from tuneloop.settings import load_settings
    from tuneloop.wiring import system_prompt

    settings = load_settings()
    with reported_errors(), store_kept_if_used(settings) as store:
        report = import_chat_file(
            store.open(),
            file,
            system_prompt=system_prompt(settings),
            eval_fraction=settings.eval_fraction,
            checks=_checks(settings, keep_personal_data),
        )
        store.used = report.added > 0
    _show([report], as_json)
