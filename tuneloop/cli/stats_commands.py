"""`tuneloop stats`: what the store holds."""

from __future__ import annotations

from rich.table import Table

from tuneloop.cli.app import app
from tuneloop.cli.output import console, json_option, print_json, reported_errors


@app.command("stats", short_help="Counts across the store.")
def stats(as_json: bool = json_option()) -> None:
    """Exchanges, feedback, the review queue, examples and dataset versions."""
    from curation.stats import store_stats
    from tuneloop.settings import load_settings
    from tuneloop.wiring import open_database

    with reported_errors():
        data = store_stats(open_database(load_settings(), existing=True))
    if as_json:
        print_json(data)
        return
    table = Table("what", "count", show_header=False)
    table.add_row("exchanges", str(data["exchanges"]["total"]))
    for kind, n in sorted(data["feedback"].items()):
        table.add_row(f"feedback: {kind}", str(n))
    table.add_row("corrections", str(data["corrections"]))
    for state, n in data["review"].items():
        table.add_row(f"review: {state}", str(n))
    for source, n in sorted(data["examples"]["by_source"].items()):
        table.add_row(f"examples from {source}", str(n))
    for split, n in sorted(data["examples"]["by_split"].items()):
        table.add_row(f"examples: {split}", str(n))
    table.add_row("golden items", str(data["examples"]["golden"]))
    table.add_row("dataset versions", str(data["dataset_versions"]))
    console.print(table)
