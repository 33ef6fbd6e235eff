"""Text for Block Kit: Slack's escaping, its mrkdwn dialect, and its length limits.

Slack's `mrkdwn` is not Markdown: `*bold*`, `_italic_`, `<url|label>`, no headings. The
bot's own messages (review cards, confirmations) are written in mrkdwn here; model replies are
standard Markdown and go out in `markdown` blocks instead (`bot.blocks.markdown`).
"""

from __future__ import annotations

SECTION_LIMIT = 3000
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Slack's three control characters, so user text is shown, not interpreted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def plain(text: str, limit: int = 75) -> dict[str, object]:
    return {"type": "plain_text", "text": shorten(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_LIMIT, *, verbatim: bool = False) -> dict[str, object]:
    """A mrkdwn text object; `verbatim` stops Slack linking URLs and channel names and parsing
    mentions in plain text (Slack's text object reference), for text quoted from people."""
    obj: dict[str, object] = {"type": "mrkdwn", "text": shorten(text, limit)}
    if verbatim:
        obj["verbatim"] = True
    return obj


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str, *, verbatim: bool = False) -> dict[str, object]:
    return {"type": "context", "elements": [mrkdwn(text, verbatim=verbatim)]}


def quote(text: str, limit: int) -> str:
    """A mrkdwn block quote (every line marked), escaped and shortened."""
    lines = escape(shorten(text.strip() or "(empty)", limit)).splitlines() or [""]
    return "\n".join(f">{line}" for line in lines)


def slack_date(moment: object) -> str:
    """A date Slack shows in each reader's own time zone (fallback: ISO text)."""
    timestamp = getattr(moment, "timestamp", None)
    if timestamp is None:
        return str(moment)
    iso = moment.isoformat(timespec="minutes")  # type: ignore[attr-defined]
    return f"<!date^{int(timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"
