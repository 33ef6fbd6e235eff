"""The bot's Slack mrkdwn on a terminal (`tuneloop chat`): read as a person reads it in Slack,
styled by rich, never with its raw markers, and never as rich markup or a control sequence."""

from __future__ import annotations

import pytest
from rich.console import Console

from tuneloop.terminal import slack_text


def _spans(text: str) -> dict[str, str]:
    """Each styled stretch of `slack_text(text)`, by its text."""
    shown = slack_text(text)
    return {shown.plain[s.start : s.end]: str(s.style) for s in shown.spans}


@pytest.mark.parametrize(
    ("mrkdwn", "plain"),
    [
        ("*Active model:* `gpt-4.1-mini`", "Active model: gpt-4.1-mini"),
        ("_(reviewers)_ and ~old~", "(reviewers) and old"),
        ("*bold _and italic_*", "bold and italic"),
        ("Ask &lt;HR&gt; &amp; payroll", "Ask <HR> & payroll"),
        ("see <https://x.example/a_b|the guide>", "see the guide (https://x.example/a_b)"),
        (
            "<https://x.example> or <mailto:hr@x.example|hr@x.example>",
            "https://x.example or hr@x.example",
        ),
        ("<@U123> in <#C1|help> <!here>", "@U123 in #help @here"),
        (
            "at <!date^1767225600^{date_short_pretty}|2026-01-01T00:00+00:00>",
            "at 2026-01-01T00:00+00:00",
        ),
        # Not styles: markers inside words, and everything inside code.
        ("snake_case_name 2*3*4 `*not bold*`", "snake_case_name 2*3*4 *not bold*"),
        ("```line one\n*still code*```", "line one\n*still code*"),
    ],
)
def test_mrkdwn_reads_as_in_slack(mrkdwn: str, plain: str) -> None:
    assert slack_text(mrkdwn).plain == plain


def test_each_marker_becomes_its_style() -> None:
    spans = _spans("*Active model:* `m` _it_ ~gone~ <https://u|label>")
    assert spans["Active model:"] == "bold"
    assert spans["it"] == "italic" and spans["gone"] == "strike"
    assert spans["m"] == "cyan" and spans["label"] == "underline"


def test_quoted_text_is_never_rich_markup_or_a_control_sequence() -> None:
    console = Console(record=True, force_terminal=True, emoji=False)
    console.print(slack_text("*Reason:* [bold]x[/] :smile: \x1b[31mred"))
    shown = console.export_text()
    assert shown == "Reason: [bold]x[/] :smile: \\x1b[31mred\n"
