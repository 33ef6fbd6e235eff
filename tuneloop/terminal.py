"""Text on a terminal, with rich: what people and models wrote is shown as written.

Text from people and models (questions, answers, corrections, reasons, model ids, paths) is
never markup: it goes to the terminal through `literal`, so `[/]` or `[bold]` is shown as
typed instead of crashing the command or vanishing, `:smile:` stays a word, and an ANSI escape
cannot recolour or clear the terminal.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

#: Control characters (C0 but newline and tab, DEL, C1) shown as escapes: an ESC in a
#: question would otherwise reach the terminal as the start of an ANSI sequence.
_CONTROLS = {
    code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code not in (9, 10)
}


def literal(value: object, style: str = "") -> Text:
    """`value` as text shown exactly as written (never markup, emoji codes or control
    sequences), for a table cell or `console.print`."""
    return Text(str(value).translate(_CONTROLS), style=style)


def model_column(table: Table, header: str = "model") -> None:
    """A column for model ids, which people copy into `models promote`: on one line when the
    terminal allows, folded onto the next lines when it does not, never cut short. (Not
    `no_wrap`: rich then shrinks the other columns to nothing before it folds this one.)"""
    table.add_column(header, overflow="fold")


def labelled(label: str, value: object) -> Text:
    """`label: value` with the label in bold and the value `literal`."""
    return Text.assemble((f"{label}: ", "bold"), literal(value))
