"""Model replies as Slack `markdown` blocks: standard Markdown, rendered by Slack itself.

Models write standard Markdown, and Slack's `markdown` block takes it as it is (Slack's Block
Kit reference, "Markdown block": made for AI apps; at most 12,000 characters, and 12,000 for
all the markdown blocks of one message together). So nothing is converted: code arrives byte
for byte. Two things are done to the text:

- a reply longer than one message holds is split into pages at paragraph or line ends, and a
  page that ends inside a fenced code block closes the fence and the next page reopens it with
  the same opening line (language included), so no page renders code as prose;
- Slack's own link syntax, `<https://example.com|label>`, which a model trained on Slack
  threads writes on purpose, becomes the Markdown link `[label](https://example.com)`
  outside code. Mentions (`<@U123>`, `<#C123>`, `<!here>`) are left in Slack's syntax.

Fences are found with markdown-it-py (CommonMark), so fences inside lists, fences opened with
`~~~` or more than three backticks, and a fence left open at the end are all read as Slack's
renderer reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

#: Characters of markdown one message may carry, in one block or several (Slack's limit).
MARKDOWN_LIMIT = 12_000

_PARSER = MarkdownIt("commonmark")
#: An inline code span (kept as it is) or a Slack link `<url|label>` (made a Markdown link).
_SLACK_LINK = re.compile(r"(`+)[^`]*?\1|<((?:https?|mailto):[^|>\s]+)\|([^>\n]+)>")


@dataclass(frozen=True, slots=True)
class _Fence:
    start: int  # index of the opening line
    end: int  # index after the last line of the block (its closing line, if it has one)
    opener: str  # the opening line, newline included: reopens the block on the next page
    closer: str  # the line that closes it early on a page


def _fences(text: str, lines: list[str]) -> list[_Fence]:
    fences = []
    for token in _PARSER.parse(text):
        if token.type != "fence" or token.map is None:
            continue
        start, end = token.map
        opener = lines[start] if lines[start].endswith("\n") else lines[start] + "\n"
        indent = opener[: len(opener) - len(opener.lstrip(" "))]
        fences.append(_Fence(start, end, opener, f"{indent}{token.markup}\n"))
    return fences


def _open_fence(fences: list[_Fence], line: int) -> _Fence | None:
    """The fence a page cut before `line` would leave open: one that starts before it and
    still has lines (content or its closing line) from `line` on."""
    for fence in fences:
        if fence.start < line < fence.end:
            return fence
    return None


def _short_lines(text: str, limit: int) -> tuple[list[str], list[int]]:
    """The text's lines, each at most `limit` characters (a longer line is cut in pieces),
    and for each line of the text the index of its first piece (plus one past the end)."""
    lines: list[str] = []
    first_piece: list[int] = []
    for line in text.splitlines(keepends=True):
        first_piece.append(len(lines))
        while len(line) > limit:
            lines.append(line[:limit])
            line = line[limit:]
        lines.append(line)
    first_piece.append(len(lines))
    return lines, first_piece


def split_markdown(text: str, limit: int = MARKDOWN_LIMIT) -> list[str]:
    """Pages of at most `limit` characters whose concatenation, less the fence lines added at
    the cuts, is `text`. Cuts fall after a blank line where one is in the second half of a
    page, else after a line; a cut inside a fenced code block closes it on this page and
    reopens it on the next. Raises ValueError for a limit too small to hold a fence pair."""
    if limit < 64:
        raise ValueError("a page must hold at least 64 characters")
    if len(text) <= limit:
        return [text]
    # Lines at most a quarter page long, so a page always holds a reopened fence, a closing
    # fence and at least one line of the text.
    lines, first_piece = _short_lines(text, limit // 4)
    fences = [
        _Fence(
            first_piece[f.start],
            first_piece[f.end],
            f.opener if len(f.opener) <= limit // 4 else f.closer,  # an absurd info string
            f.closer,
        )
        for f in _fences(text, text.splitlines(keepends=True))
    ]
    pages: list[str] = []
    first = 0
    reopen = ""
    while first < len(lines):
        size = len(reopen)
        last = first  # the page is lines[first:last]
        best = None  # the last cut after a blank line, in the page's second half
        while last < len(lines):
            fence = _open_fence(fences, last + 1)
            closing = len(fence.closer) if fence and last + 1 < len(lines) else 0
            if size + len(lines[last]) + closing > limit:
                break
            size += len(lines[last])
            last += 1
            if not lines[last - 1].strip() and size > limit // 2:
                best = last
        if last == len(lines):
            best = last
        cut = best or last
        page = reopen + "".join(lines[first:cut])
        fence = _open_fence(fences, cut) if cut < len(lines) else None
        if fence is not None:
            page += ("" if page.endswith("\n") else "\n") + fence.closer
            reopen = fence.opener
        else:
            reopen = ""
        pages.append(page)
        first = cut
    return pages


def slack_links_to_markdown(text: str) -> str:
    """`<url|label>` (Slack's link syntax) as `[label](url)`, except inside code."""

    if "|" not in text or "<" not in text:
        return text  # the usual reply: no Slack link, nothing to parse

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)
        return f"[{match.group(3)}]({match.group(2)})"

    lines = text.splitlines(keepends=True)
    in_code = [False] * len(lines)
    for fence in _fences(text, lines):
        for index in range(fence.start, min(fence.end, len(lines))):
            in_code[index] = True
    return "".join(
        line if in_code[i] or "|" not in line else _SLACK_LINK.sub(replace, line)
        for i, line in enumerate(lines)
    )


def markdown_block(text: str) -> dict[str, Any]:
    """One `markdown` block (Slack ignores a markdown block's block_id, so none is set)."""
    return {"type": "markdown", "text": text}
