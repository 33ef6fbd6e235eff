"""Text on a terminal, with rich: what people and models wrote is shown as written.

Text from people and models (questions, answers, corrections, reasons, model ids, paths) is
never markup: it goes to the terminal through `literal`, so `[/]` or `[bold]` is shown as
typed instead of crashing the command or vanishing, `:smile:` stays a word, and an ANSI escape
cannot recolour or clear the terminal.
"""

from __future__ import annotations

import re

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


#: Slack's `<...>` entities: a link `<url|label>` or `<url>`, a mention `<@U123>`, a channel
#: `<#C123|name>`, a special mention `<!here>`, a date `<!date^...|fallback>`.
_ENTITY = re.compile(r"<([^<>|\n]+)(?:\|([^<>\n]*))?>")
#: Slack's inline styles, each opened and closed on a word's edge (Slack's formatting reference,
#: https://api.slack.com/reference/surfaces/formatting#basic-formatting). Code first: no
#: style applies inside it.
_STYLE = re.compile(
    r"```(?P<pre>.+?)```"
    r"|`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+?)~(?![\w~])",
    re.DOTALL,
)
_STYLES = {"bold": "bold", "italic": "italic", "strike": "strike", "code": "cyan", "pre": "cyan"}


def _unescape(text: str) -> str:
    """Slack's three escaped characters as written (`bot.blocks.text.escape` made them).
    (Not `bot.blocks.text.unescape`: importing `bot` loads Bolt, and every command imports
    this module, `tuneloop --help` too.)"""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _styled(text: str) -> Text:
    """Plain mrkdwn (no entities) with its inline styles applied."""
    out = Text()
    at = 0
    for match in _STYLE.finditer(text):
        out.append(_unescape(text[at : match.start()]))
        kind = match.lastgroup or "code"
        inner = match.group(kind)
        if kind in ("code", "pre"):
            out.append(_unescape(inner), style=_STYLES[kind])
        else:
            styled = _styled(inner)
            styled.stylize(_STYLES[kind])
            out.append_text(styled)
        at = match.end()
    out.append(_unescape(text[at:]))
    return out


def _entity(target: str, label: str | None) -> Text:
    """One `<...>` entity as a person reads it in Slack."""
    if target.startswith(("@", "#")):  # <@U123>, <#C123|general>
        return Text(target[0] + _unescape(label or target[1:]), style="bold")
    if target.startswith("!"):  # <!here>, <!date^...|fallback>, <!subteam^ID|@team>
        return Text(_unescape(label) if label else "@" + target[1:].split("^")[0], style="bold")
    url = _unescape(target)
    if not label or _unescape(label) == url.removeprefix("mailto:"):
        return Text(url.removeprefix("mailto:"), style="underline")
    return Text.assemble((_unescape(label), "underline"), f" ({url})")


def slack_text(value: object) -> Text:
    """Slack mrkdwn (the bot's own messages: `*bold*`, `_italic_`, `~strike~`, `` `code` ``,
    links and mentions in `<...>`, `&lt;`-escapes) as a terminal shows it, styled by rich:
    what a person would read in Slack, without the markers. Text quoted in it stays literal
    (never rich markup or a control sequence, see `literal`); emoji codes stay as written."""
    text = str(value).translate(_CONTROLS)
    out = Text()
    at = 0
    for match in _ENTITY.finditer(text):
        out.append_text(_styled(text[at : match.start()]))
        out.append_text(_entity(match.group(1), match.group(2)))
        at = match.end()
    out.append_text(_styled(text[at:]))
    return out


def one_line(text: str | None, width: int = 60) -> str:
    """`text` on one line (whitespace runs as one space), cut to `width` characters with "…"."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
