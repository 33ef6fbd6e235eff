"""How the demo talks to people: progress lines and the summary table, with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuneloop.demo.summary import DemoSummary
from tuneloop.terminal import literal, model_column


class ProgressPrinter:
    """Numbered progress lines; the demo calls it with one sentence per step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.step = 0

    def __call__(self, line: str) -> None:
        self.step += 1
        self.console.print(Text(f"{self.step:>2}. ", style="bold cyan") + literal(line))


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(summary: DemoSummary) -> Table:
    """One row per model version; the gate's reasons follow in `reasons`."""
    table = Table(title="tuneloop demo: model versions")
    table.add_column("version", no_wrap=True)
    model_column(table)
    for column in ("golden", "win rate", "lower bound"):
        table.add_column(column, justify="right", no_wrap=True, min_width=5)  # "0.526"
    table.add_column("outcome", no_wrap=True)
    for row in summary.models:
        colour = {"promoted": "green", "rejected": "red"}.get(row.outcome or "", "white")
        table.add_row(
            row.label,
            literal(row.model),
            _figure(row.golden_mean),
            _figure(row.win_rate),
            _figure(row.win_rate_lower_bound),
            literal(row.outcome or "-", style=colour),
        )
    return table


def reasons(summary: DemoSummary) -> list[str]:
    """The gate's reason for each decided version, one line each."""
    return [f"{row.label}: {row.reason}" for row in summary.models if row.verdict]


def checks_table(summary: DemoSummary) -> Table:
    table = Table(title="what the loop had to do")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in summary.checks:
        mark = "[green]pass[/]" if check.passed else "[bold red]FAIL[/]"
        table.add_row(check.name, mark, literal(check.detail))
    return table
