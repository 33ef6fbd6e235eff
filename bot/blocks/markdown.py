"""Model replies as Slack `markdown` blocks: standard Markdown, rendered by Slack itself.

Models write standard Markdown, and Slack's `markdown` block takes it as it is (Slack's Block
Kit reference, "Markdown block": made for AI apps; at most 12,000 characters, and 12,000 for
all the markdown blocks of one message together). So nothing is converted: code arrives byte
for byte. Two things are done to the text:

- a reply longer than one message holds is split into pages at paragraph or line ends, and a
  page that ends inside a fenced code block closes the fence and the next page reopens it with
  the same opening line (language included), so no page renders code as prose. Each page is
  rendered on its own, so a page that starts inside a list item shows the rest of the item
  lifted out of the list (`bot.blocks.containers`): indented to the list, a reopened fence or
  a paragraph would be an indented code block there;
- Slack's own link syntax, `<https://example.com|label>`, which a model trained on Slack
  threads writes on purpose, becomes the Markdown link `[label](https://example.com)`
  outside code (fenced or indented code blocks, inline code spans). Mentions (`<@U123>`,
  `<#C123>`, `<!here>`) are left in Slack's syntax.

Code is found with markdown-it-py (CommonMark), so fences inside lists, fences opened with
`~~~` or more than three backticks, a fence left open at the end and code spans over several
lines are all read as Slack's renderer reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from bot.blocks.containers import Fence, Structure

#: Characters of markdown one message may carry, in one block or several (Slack's limit).
MARKDOWN_LIMIT = 12_000

_PARSER = MarkdownIt("commonmark")
#: Slack's link syntax `<url|label>`. One holding a backtick is left as it is: taking it out
#: of the text to see where code is would change which backticks pair up.
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>\s`]+)\|([^>\n`]+)>")
_BLANK_LINE = re.compile(r"\n[ \t]*(?=\n)")


@dataclass(frozen=True, slots=True)
class _Unit:
    line: int  # the text's line this is (part of)
    text: str


def _units(doc: Structure, first: int, carry: str, size: int) -> list[_Unit]:
    """The rest of the text as a page starting at line `first` (after `carry`, the rest of
    the line before it) writes it: lines lifted out of list items begun before that line, in
    units of at most `size` characters (a longer line is cut in pieces)."""
    units = [_Unit(first - 1, carry[i : i + size]) for i in range(0, len(carry), size)]
    for index in range(first, len(doc.lines)):
        text = doc.lift(index, first)
        if index > first and doc.depth(index, first) < doc.depth(index - 1, first):
            # Leaving a lifted item: fences its end closed are closed, and a blank line keeps
            # the line from continuing the lifted paragraph (a list item "2." cannot
            # interrupt one, CommonMark 5.2).
            text = doc.implicit_closers(index, first) + _blank_between(doc, index, text) + text
        units.extend(_Unit(index, text[i : i + size]) for i in range(0, len(text), size))
    return units


def _blank_between(doc: Structure, index: int, text: str) -> str:
    if not doc.lines[index - 1].strip() or not text.strip():
        return ""
    quotes = re.match(r"(?:[ \t]{0,3}>[ \t]?)*", text)
    return (quotes.group(0).rstrip() if quotes else "") + "\n"


def _open_fence(doc: Structure, line: int, mid: bool) -> Fence | None:
    """The fence a page cut before line `line` (inside it when `mid`) leaves open."""
    for fence in doc.fences:
        if fence.start < line < fence.end or (mid and fence.start == line < fence.end):
            return fence
    return None


def split_markdown(text: str, limit: int = MARKDOWN_LIMIT) -> list[str]:
    """Pages of at most `limit` characters, each valid Markdown on its own, that show `text`.

    Cuts fall after a blank line where one is in the second half of a page, else after a line
    (a line longer than a quarter page is cut in pieces). A cut inside a fenced code block
    closes it on this page and reopens it on the next with the same opening line; a page that
    starts inside a list item shows the rest of the item lifted out of the list
    (`bot.blocks.containers`), so its code is code and its prose prose. The code of all the
    pages together is the text's code, byte for byte. Raises ValueError for a limit too small
    to hold a fence pair."""
    if limit < 64:
        raise ValueError("a page must hold at least 64 characters")
    if len(text) <= limit:
        return [text]
    doc = Structure(text)
    # Units at most a quarter page long, so a page always holds a reopened fence, a closing
    # fence and at least one unit of the text.
    size = limit // 4
    pages: list[str] = []
    first, carry, reopen = 0, "", ""
    while True:
        page = _Page(doc, first, _units(doc, first, carry, size))
        cut, fence = page.cut(len(reopen), limit)
        text = reopen + "".join(unit.text for unit in page.units[:cut])
        if fence is not None:
            text += ("" if text.endswith("\n") else "\n") + page.closer(fence)
        pages.append(text)
        if cut == len(page.units):
            return pages
        line = page.units[cut].line
        if page.units[cut - 1].line == line:  # cut inside a line: its rest starts the next page
            carry = "".join(unit.text for unit in page.units[cut:] if unit.line == line)
            first = line + 1
        else:
            carry, first = "", line
        reopen = _reopener(doc, fence, first, size) if fence else ""


class _Page:
    """The rest of the text as one page would begin it, and where that page ends."""

    def __init__(self, doc: Structure, first: int, units: list[_Unit]) -> None:
        self.doc, self.first, self.units = doc, first, units
        self._closers: dict[int, str] = {}

    def open_at(self, cut: int) -> Fence | None:
        """The fence a cut before unit `cut` leaves open."""
        if cut >= len(self.units):
            return None
        line = self.units[cut].line
        return _open_fence(self.doc, line, self.units[cut - 1].line == line)

    def closer(self, fence: Fence) -> str:
        if fence.start not in self._closers:
            self._closers[fence.start] = self.doc.fence_closer(fence, self.first)
        return self._closers[fence.start]

    def cut(self, taken: int, limit: int) -> tuple[int, Fence | None]:
        """Where the page ends (units before it; at least one), given `taken` characters
        already on it, and the fence it must close there."""
        units = self.units
        last = 0  # the page is units[:last]
        best = 0  # the last cut after a blank line, in the page's second half
        while last < len(units):
            fence = self.open_at(last + 1)
            closing = len(self.closer(fence)) + 1 if fence else 0
            if last and taken + len(units[last].text) + closing > limit:
                break
            taken += len(units[last].text)
            last += 1
            if not units[last - 1].text.strip() and taken > limit // 2:
                best = last
        cut = len(units) if last == len(units) else best or last
        while cut > 1 and (fence := self.open_at(cut)) and fence.start == units[cut - 1].line:
            cut -= 1  # not a fence opened only to be closed: it starts the next page
        fence = self.open_at(cut)
        if (
            fence is not None
            and fence.closed
            and units[cut].line == fence.end - 1
            and taken - sum(len(u.text) for u in units[cut:last]) + len(units[cut].text) <= limit
        ):  # its own closing line, rather than one added here and a next page that only
            return cut + 1, None  # reopens the fence to close it
        return cut, fence


def _reopener(doc: Structure, fence: Fence, first: int, size: int) -> str:
    """The opening line of `fence` on a page starting at line `first`: lifted out of its list
    items; without its info string if that would not leave room (an absurd one)."""
    opener = doc.lift(fence.start, first)
    opener = opener if opener.endswith("\n") else opener + "\n"
    return opener if len(opener) <= size else doc.fence_closer(fence, first)


def slack_links_to_markdown(text: str) -> str:
    """`<url|label>` (Slack's link syntax) as `[label](url)`, except inside code: fenced and
    indented code blocks and inline code spans (one running over several lines too), as
    markdown-it-py (CommonMark) finds them, list items and block quotes included."""
    links = list(_SLACK_LINK.finditer(text))
    if not links:
        return text  # the usual reply: no Slack link, nothing to parse
    # Each link is swapped for a placeholder that no Markdown rule reads (private-use
    # characters around its number); the placeholders that land in code tokens are in code.
    mark = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in text)
    pieces, at = [], 0
    for number, link in enumerate(links):
        pieces += [text[at : link.start()], f"{mark}{number}{mark}"]
        at = link.end()
    pieces.append(text[at:])
    in_code: set[int] = set()
    found = re.compile(f"{mark}([0-9]+){mark}")
    for token in _PARSER.parse("".join(pieces)):
        code = [token] if token.type in ("fence", "code_block") else []
        code += [child for child in token.children or [] if child.type == "code_inline"]
        for part in code:
            in_code.update(int(number) for number in found.findall(part.content))
    out, at = [], 0
    for number, link in enumerate(links):
        kept = link.group(0) if number in in_code else f"[{link.group(2)}]({link.group(1)})"
        out += [text[at : link.start()], kept]
        at = link.end()
    out.append(text[at:])
    return "".join(out)


def settled_length(text: str) -> int:
    """How much of a reply still being written `slack_links_to_markdown` renders as it will
    render the whole reply: all but a last line that may still be completing a Slack link or
    a code span, and, in the last paragraph, all before its first Slack link that follows a
    backtick (a code span closed further on may hold it). Code spans end at a blank line
    (CommonMark 6.1), so earlier links keep how they render."""
    end = text.rfind("\n") + 1
    if "<" not in text[end:] and "`" not in text[end:]:
        end = len(text)
    start = 0  # the last paragraph: after the last blank line
    for blank in _BLANK_LINE.finditer(text, 0, end):
        start = blank.end()
    tick = text.find("`", start, end)
    link = _SLACK_LINK.search(text, tick, end) if tick >= 0 else None
    return link.start() if link else end


def markdown_block(text: str) -> dict[str, Any]:
    """One `markdown` block (Slack ignores a markdown block's block_id, so none is set)."""
    return {"type": "markdown", "text": text}
