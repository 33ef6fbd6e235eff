"""Where each line of a Markdown text sits, and a line lifted out of the list items it is in.

A reply split into several Slack messages loses, from the second message on, the list that a
cut fell inside: Slack renders every message on its own. A list item's lines are indented to
the item's content column, and outside the list four columns of indentation make an indented
code block (CommonMark 4.4): a fence indented five spaces under a nested item shows as code
holding a literal "```bash" line. Lifting a line takes the indentation of the list items
away, column for column as CommonMark counts it (a tab stops at the next multiple of four),
so what was left of the item renders on the next page as it did inside the list, without the
list's bullet. Block quotes are kept: their `>` markers are on every line and carry the
quote onto the next page by themselves.

Containers (list items, block quotes) and code blocks are found with markdown-it-py, so this
reads a text as Slack's CommonMark renderer does; only each item's content column (which the
tokens do not carry) is measured here, by CommonMark's list item rules (5.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark")
_MARKER = re.compile(r"[-+*]|[0-9]{1,9}[.)]")


def split_lines(text: str) -> list[str]:
    """The text's lines, newlines kept, split only at "\\n" (as markdown-it counts lines)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


@dataclass(eq=False)
class Container:
    """A list item (`quote` False) or block quote over lines [start, end)."""

    quote: bool
    start: int
    end: int
    #: A list item's content column, counted from where the item starts on its first line.
    width: int = -1


@dataclass(frozen=True, slots=True)
class Fence:
    start: int  # the opening line
    end: int  # after the last line: the closing line, or the last line its container holds
    markup: str  # the opening backticks or tildes
    closed: bool  # ends with a closing line (not the end of the text or of its container)


@dataclass
class _Out:
    """Text being written, with the column it has reached (to keep each tab's width)."""

    parts: list[str] = field(default_factory=list)
    col: int = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.col += len(text)

    def tab(self, start: int, width: int, first: int, last: int) -> None:
        """Columns [first, last) of a tab spanning [start, start + width) of the source."""
        if first == start and last == start + width and 4 - self.col % 4 == width:
            self.parts.append("\t")
            self.col += width
        else:  # a tab cut by a container, or one that would stop elsewhere here
            self.write(" " * (last - first))


class _Cursor:
    """A place in a line, counted in columns as CommonMark counts them (2.2: tab stops of 4)."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.i = 0  # index of the character at the cursor
        self.col = 0  # the cursor's column
        self.part = 0  # columns of the tab at `i` already passed (0 unless inside one)

    def copy(self) -> _Cursor:
        other = _Cursor(self.line)
        other.i, other.col, other.part = self.i, self.col, self.part
        return other

    def char(self) -> str:
        return self.line[self.i] if self.i < len(self.line) else ""

    def blank(self) -> bool:
        return not self.line[self.i :].strip()

    def spaces(self) -> int:
        """Columns of spaces and tabs from the cursor to the next other character."""
        probe = self.copy()
        probe.advance(1 << 30, None, spaces_only=True)
        return probe.col - self.col

    def advance(self, columns: int, out: _Out | None, *, spaces_only: bool = False) -> None:
        """Pass `columns` columns (fewer at the line's end, or at a character that is not a
        space or tab when `spaces_only`), writing what is passed to `out` if given."""
        line = self.line
        while columns > 0 and self.i < len(line) and line[self.i] not in "\r\n":
            ch = line[self.i]
            if ch == "\t":
                start = self.col - self.part
                width = 4 - start % 4
                step = min(columns, width - self.part)
                if out is not None:
                    out.tab(start, width, self.col, self.col + step)
                self.col += step
                self.part += step
                columns -= step
                if self.part == width:
                    self.i, self.part = self.i + 1, 0
                continue
            if spaces_only and ch != " ":
                return
            if out is not None:
                out.write(ch)
            self.i, self.col = self.i + 1, self.col + 1
            columns -= 1

    def rest(self, out: _Out) -> None:
        if self.part:  # what is left of a tab a container began in: written as spaces
            self.advance(4 - (self.col - self.part) % 4 - self.part, out)
        out.parts.append(self.line[self.i :])


class Structure:
    """A text's lines with, for each, the containers that hold it (outermost first), and its
    code: fenced code blocks, and each code line's content as markdown-it reads it. Raises
    nothing: markdown-it reads any text."""

    def __init__(self, text: str) -> None:
        self.lines = split_lines(text)
        # A lone "\r" would end a line for markdown-it and not for `split_lines`; as a space
        # it keeps the two counting the same lines ("\r\n" markdown-it reads as "\n").
        tokens = _PARSER.parse(re.sub(r"\r(?!\n)", " ", text))
        self.chains: list[list[Container]] = [[] for _ in self.lines]
        self.fences: list[Fence] = []
        self._ending: dict[int, list[Fence]] = {}  # fences by the line after their last
        #: line index -> (columns of indentation the code block takes: the fence's own, or
        #: four for an indented code block; the line's content as markdown-it reads it)
        self._code: dict[int, tuple[int, str]] = {}
        #: lines that continue a paragraph: their indentation means nothing (CommonMark 4.8)
        self._continued: set[int] = set()
        code: list[tuple[Token, int, int]] = []
        for token in tokens:
            if token.map is None:
                continue
            start, end = token.map[0], min(token.map[1], len(self.lines))
            if token.type in ("list_item_open", "blockquote_open"):
                container = Container(token.type == "blockquote_open", start, end)
                for index in range(start, end):
                    self.chains[index].append(container)
            elif token.type in ("fence", "code_block"):
                code.append((token, start, end))
            elif token.type == "paragraph_open":
                self._continued.update(range(start + 1, end))
        for token, start, end in code:  # once every container is known
            if token.type == "code_block":
                self._code_lines(range(start, end), 4, token.content)
                continue
            # Closed: one line fewer of content than lines after the opener, each ending
            # in "\n" (a last line without one is content at the end of the text).
            content = token.content
            closed = content.count("\n") == end - start - 2 and content[-1:] in ("", "\n")
            self.fences.append(Fence(start, end, token.markup, closed))
            self._ending.setdefault(end, []).append(self.fences[-1])
            indent = min(self._walk(start, 0, None, None).spaces(), 3)
            self._code_lines(range(start + 1, end - 1 if closed else end), indent, content)

    def _code_lines(self, lines: range, indent: int, content: str) -> None:
        texts = split_lines(content)
        if len(texts) != len(lines):
            return  # not expected; such lines are lifted column by column instead
        for index, text in zip(lines, texts, strict=True):
            if self.lines[index].endswith("\r\n") and not text.endswith("\r\n"):
                text = text.removesuffix("\n") + "\r\n"
            self._code[index] = (indent, text)

    # --- measuring ------------------------------------------------------------------------------
    def _walk(self, index: int, lifted: int, out: _Out | None, upto: Container | None) -> _Cursor:
        """A cursor past the container markers of line `index` (those outside `upto`, if
        given). Written to `out`: quote markers as "> ", and items starting at or after line
        `lifted` as their marker or indentation in spaces; items that started before that
        line are dropped."""
        cursor = _Cursor(self.lines[index])
        for container in self.chains[index]:
            if container is upto:
                break
            if container.quote:
                probe = cursor.copy()
                probe.advance(probe.spaces(), None)
                if probe.col - cursor.col > 3 or probe.char() != ">":
                    break  # a lazy continuation line: no marker
                cursor = probe
                cursor.advance(1, None)  # ">"
                if cursor.spaces():
                    cursor.advance(1, None)  # the one optional space after it
                if out is not None:
                    out.write(">" if cursor.blank() else "> ")
                continue
            width = self._width(container)
            keep = out if container.start >= lifted else None
            if index == container.start:  # its marker line: the marker and its spacing
                lead = cursor.spaces()
                cursor.advance(lead, None)
                marker = _MARKER.match(cursor.line, cursor.i)
                mark = marker.group(0) if marker else cursor.char()
                if keep is not None:
                    keep.write(" " * lead + mark + " " * (width - lead - len(mark)))
                cursor.advance(width - lead, None)
            else:
                if cursor.spaces() < width and not cursor.blank():
                    break  # a lazy continuation line
                taken = min(cursor.spaces(), width)
                cursor.advance(taken, None)
                if keep is not None:
                    keep.write(" " * taken)
        return cursor

    def _width(self, item: Container) -> int:
        """An item's content column relative to where it starts (CommonMark 5.2, rule 1-3)."""
        if item.width < 0:
            cursor = self._walk(item.start, 0, None, item)
            start = cursor.col
            cursor.advance(cursor.spaces(), None)
            marker = _MARKER.match(cursor.line, cursor.i)
            cursor.advance(len(marker.group(0)) if marker else 1, None)
            after = cursor.spaces()
            gap = 1 if cursor.blank() or after > 4 else after
            item.width = cursor.col + gap - start
        return item.width

    # --- lifting --------------------------------------------------------------------------------
    def depth(self, index: int, lifted: int) -> int:
        """How many list items started before line `lifted` hold line `index`."""
        return sum(1 for c in self.chains[index] if not c.quote and c.start < lifted)

    def lift(self, index: int, lifted: int) -> str:
        """Line `index` as it reads on a page that starts at line `lifted`: without the
        indentation (and markers) of the list items that started before that page, every
        other column where it was, and code content byte for byte. The page's first line,
        if it continues a paragraph, loses its indentation, which no longer follows the
        paragraph's start and would make four columns or more an indented code block."""
        line = self.lines[index]
        opens_page = index == lifted and index in self._continued
        if not self.depth(index, lifted) and not opens_page:
            return line
        out = _Out()
        cursor = self._walk(index, lifted, out, None)
        code = self._code.get(index)
        if code is not None:  # code content exactly as it was read, at the same indentation
            indent, text = code
            return "".join(out.parts) + " " * indent + text
        # The rest's indentation, every tab as wide as it was (dropped on a continuation).
        cursor.advance(cursor.spaces(), None if opens_page else out)
        cursor.rest(out)
        return "".join(out.parts)

    def fence_closer(self, fence: Fence, lifted: int) -> str:
        """A line that closes `fence` on a page starting at line `lifted`: its opening line's
        markers as spaces (quote markers kept), so it sits in the same containers."""
        opener = self.lift(fence.start, lifted)
        prefix = opener[: max(opener.find(fence.markup), 0)]
        return re.sub(r"[^ \t>]", " ", prefix) + fence.markup + "\n"

    def implicit_closers(self, index: int, lifted: int) -> str:
        """Closing lines for fences that the end of a list item closed just before line
        `index`, where that item (or one around it) is lifted on a page starting at line
        `lifted`: lifted, the item may no longer end there, and the fence would run on."""
        closers = ""
        for fence in self._ending.get(index, ()):
            if not fence.closed and self.depth(fence.start, lifted) > self.depth(index, lifted):
                closers += self.fence_closer(fence, lifted)
        return closers
