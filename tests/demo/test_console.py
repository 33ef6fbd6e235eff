"""The demo's tables on an ordinary terminal: every figure shows, and model ids are folded,
never cut (people copy them into `tuneloop models promote`)."""

from __future__ import annotations

import re

from rich.console import Console

from tuneloop.demo.console import summary_table
from tuneloop.demo.summary import DemoSummary, ModelRow

MODEL = "ft:gpt-4.1-nano-2025-04-14:tuneloop:dv2-3f9c0a12:AbCdEf12"


def test_the_figures_and_the_whole_model_id_show_at_80_columns() -> None:
    summary = DemoSummary()
    summary.models.append(
        ModelRow("v2 (+ 48 corrections)", MODEL, 0.526, 0.582, 0.536, "promote", "promoted")
    )
    console = Console(width=80, record=True)
    console.print(summary_table(summary))
    text = console.export_text()
    assert all(figure in text for figure in ("0.526", "0.582", "0.536", "promoted"))
    cells = re.sub(r"[│\s]", "", "".join(line.split("│")[2] for line in text.splitlines()[4:-1]))
    assert MODEL in cells
