"""`tuneloop export`: write a validated dataset version."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from tuneloop.cli.app import app
from tuneloop.cli.output import console, json_option, print_json, reported_errors
from tuneloop.terminal import literal


class ExportMethod(StrEnum):
    """curation.export.Method, written out here: importing curation.export loads tiktoken and
    SQLAlchemy, which `tuneloop --help` must not wait for (a test holds the two equal)."""

    SFT = "sft"
    DPO = "dpo"


@app.command("export", short_help="Write a dataset version of the approved examples.")
def export(
    out: Path = typer.Option(
        ..., "--out", help="Folder for train.jsonl, eval.jsonl, manifest.json."
    ),
    method: ExportMethod = typer.Option(
        ExportMethod.SFT, help="sft (supervised) or dpo (preference)."
    ),
    model: str | None = typer.Option(
        None, help="Model to validate and cost for (default: TUNELOOP_BASE_MODEL)."
    ),
    epochs: int | None = typer.Option(
        None, min=1, help="Epochs for the cost estimate (default: TUNELOOP_EPOCHS)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an earlier export's files in --out (its dataset version keeps its record, "
        "not its files).",
    ),
    as_json: bool = json_option(),
) -> None:
    """Export approved examples as a dataset version and record it in the store."""
    from curation.export import ExportOptions, Method, export_dataset, left_out_summary
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database, personal_data_policy

    settings = load_settings()
    options = ExportOptions(
        out_dir=out,
        model=model or settings.base_model,
        method=Method(method.value),
        epochs=epochs or settings.export_epochs,
        redact_pii=settings.redact_pii_in_export,
        personal_data=personal_data_policy(settings),
        replace=force,
    )
    with reported_errors():
        # existing: an export reads the store, and a store made for it would be empty.
        result = export_dataset(open_database(settings, existing=True), settings.models, options)
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        literal(
            f"dataset version {result.dataset_version_id}: {result.train_count} train, "
            f"{result.eval_count} eval examples in {result.path}\n"
            f"{result.train_tokens} training tokens x {options.epochs} epochs = "
            f"{result.estimated_training_tokens} trained tokens, "
            f"about ${result.estimated_cost_usd:.2f} on {result.model}"
        )
    )
    left_out = left_out_summary(result.left_out)
    if left_out:
        console.print(literal(f"{left_out}; the first are listed in manifest.json"))
