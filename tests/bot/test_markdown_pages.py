"""Replies as Slack renders them, one message at a time: pages that each render right on their
own (code as code, byte for byte; prose as prose), Slack links rewritten only outside code,
and a streamed reply never sent text that its end renders differently. Pure functions; the
same behaviour through the bot is in test_rendering.py."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from bot.blocks.containers import Structure
from bot.blocks.markdown import settled_length, slack_links_to_markdown, split_markdown

PARSER = MarkdownIt("commonmark")


def code_of(markdown: str) -> str:
    """Every code block's content (fenced and indented), in order, as CommonMark reads it."""
    return "".join(t.content for t in PARSER.parse(markdown) if t.type in ("fence", "code_block"))


def prose_of(markdown: str) -> list[str]:
    """The words of every paragraph and heading (a cut paragraph reads the same in two)."""
    return [
        word for t in PARSER.parse(markdown) if t.type == "inline" for word in t.content.split()
    ]


def empty_code_blocks(markdown: str) -> int:
    return sum(1 for t in PARSER.parse(markdown) if t.type in ("fence", "code") and not t.content)


def shell(indent: str, lines: int) -> str:
    """Shell lines that Markdown would mangle as prose (a heading, emphasis, a list)."""
    return "".join(f"{indent}echo step {n} **x** # not a heading\n" for n in range(lines))


#: Long replies whose code or prose sits in list items (and quotes), where a cut falls inside.
CONTAINED = {
    "fence indented five spaces in a nested item": (
        "1. Step\n   - On Linux:\n\n     ```bash\n" + shell("     ", 700) + "     ```\n\n"
        "     Then run it.\n   - On Mac:\n\n     ```bash\n     brew install x\n     ```\n"
        "2. Done\n"
    ),
    "tab-indented fence": "- On Linux:\n\n\t```bash\n" + shell("\t", 700) + "\t```\n\n\tThen.\n",
    "tab-indented fence, tabs in the code": "- A:\n\n\t```make\n" + shell("\t\t", 700) + "\t```\n",
    "fence on the item's marker line": "1. ```bash\n" + shell("   ", 700) + "   ```\n2. Done\n",
    "two-digit ordered item": "10. Step\n\n    ```py\n"
    + shell("    ", 700)
    + "    ```\n\n    After.\n",
    "fence with its own indent in an item": (
        "- item\n\n    ```py\n" + shell("    ", 350) + shell("      ", 350) + "    ```\n"
    ),
    "fence in a block quote": "> ```sql\n" + shell("> ", 700) + "> ```\n> after\n\nout\n",
    "fence in a list in a block quote": "> - item\n>\n>   ```sql\n"
    + shell(">   ", 700)
    + ">   ```\n",
    "paragraphs in a nested item": (
        "1. Step\n   - sub\n\n"
        + "".join(f"     Paragraph {n} says a few words about the step.\n\n" for n in range(450))
        + "2. End\n"
    ),
    "indented code block in an item": "- item\n\n" + shell("      ", 700) + "\n  after\n",
    "fence its item's end closes": "- item\n\n  ```bash\n"
    + shell("  ", 700)
    + "- next\n\n  text\n",
    "three levels deep": (
        "- a\n  - b\n    - c\n\n      ```bash\n" + shell("      ", 700) + "      ```\n\n"
        "      more\n    - c2\n  - b2\n- a2\n"
    ),
    "CRLF line ends": "- a\r\n\r\n     ```bash\r\n" + shell("     ", 700).replace("\n", "\r\n"),
}


@pytest.mark.parametrize("limit", [12_000, 3000, 900])
@pytest.mark.parametrize("text", CONTAINED.values(), ids=CONTAINED.keys())
def test_every_page_renders_its_part_of_the_reply_as_the_whole_does(text: str, limit: int) -> None:
    """Each page is rendered on its own, without the list a cut fell in: code stays code,
    byte for byte, prose stays prose, and no page holds an empty code block."""
    pages = split_markdown(text, limit)
    assert len(pages) > 1
    assert all(len(page) <= limit for page in pages)
    assert "".join(code_of(page) for page in pages) == code_of(text)
    assert [word for page in pages for word in prose_of(page)] == prose_of(text)
    assert sum(empty_code_blocks(page) for page in pages) == 0


@pytest.mark.parametrize(
    ("opener", "indent"),
    [("     ```bash\n", "     "), ("\t```bash\n", "\t"), ("   ```bash\n", "   ")],
    ids=["five spaces", "tab", "three spaces"],
)
def test_a_fence_cut_inside_a_list_item_reopens_at_the_left_margin(
    opener: str, indent: str
) -> None:
    """Field case "Fence split" inside a list: the next page has no list, so the fence and its
    code are lifted out of it (four columns would make them an indented code block)."""
    item = "1. Step\n   - On Linux:\n\n" if indent == "     " else "- On Linux:\n\n"
    text = item + opener + shell(indent, 900) + indent.rstrip("\n") + "```\n"
    first, *rest = split_markdown(text)
    assert first.endswith(f"{indent}```\n")  # closed where it was opened, inside the list
    for page in rest:  # the fence's own indent in the item (at most three columns) is kept
        assert re.match(r" {0,3}```bash\n {0,3}echo step ", page)
        assert [t.type for t in PARSER.parse(page)] == ["fence"]
    assert "".join(code_of(page) for page in [first, *rest]) == code_of(text)


def test_a_page_that_starts_inside_a_paragraph_does_not_start_with_code() -> None:
    """A paragraph's continuation lines may be indented any amount; first on a page, four
    columns would make one an indented code block."""
    lines = "".join(f"        word {n} of a very long paragraph\n" for n in range(900))
    text = "Intro\n\nThe paragraph:\n" + lines
    pages = split_markdown(text, 3000)
    assert len(pages) > 1
    assert all(code_of(page) == "" for page in pages)
    assert [word for page in pages for word in prose_of(page)] == prose_of(text)


def test_lifting_keeps_every_column_and_the_code_bytes() -> None:
    text = "- a\n\n  \t```c\n  \t\tint x;\n  \t```\n  \tprose\n"
    doc = Structure(text)
    assert doc.lift(3, 1) == "  \tint x;\n"  # code content as read: a tab, not spaces
    assert doc.lift(5, 1) == "  prose\n"  # the tab stopped at column 4; lifted, at column 2
    assert doc.lift(5, 0) == text.splitlines(keepends=True)[5]  # no item lifted: as it was


# --- Slack links ---------------------------------------------------------------------------------
LINK = "<https://api.example.com/v1|the API>"
MARKDOWN_LINK = "[the API](https://api.example.com/v1)"


@pytest.mark.parametrize(
    "text",
    [
        f"Run:\n\n    curl {LINK}\n",
        f"    curl {LINK}\n",
        f"Call `curl\n{LINK}` from a shell.",
        f"Call ``a ` b\n{LINK}`` now.",
        f"- step\n\n  ```\n  curl {LINK}\n  ```\n",
        f"> Run:\n>\n>     curl {LINK}\n",
        f"1. step\n\n       curl {LINK}\n",
        f"~~~\ncurl {LINK}\n",
    ],
    ids=[
        "indented code block",
        "indented code at the start",
        "code span over two lines",
        "double-backtick span holding a backtick",
        "fence in a list item",
        "indented code in a quote",
        "indented code in a list item",
        "unclosed tilde fence",
    ],
)
def test_slack_links_in_code_are_left_as_written(text: str) -> None:
    assert slack_links_to_markdown(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Read {LINK}.", f"Read {MARKDOWN_LINK}."),
        (f"- step\n\n    see {LINK}\n", f"- step\n\n    see {MARKDOWN_LINK}\n"),
        (f"Run:\n    curl {LINK}\n", f"Run:\n    curl {MARKDOWN_LINK}\n"),
        (f"`code` and {LINK} and `more`", f"`code` and {MARKDOWN_LINK} and `more`"),
        (f"An open ` is literal: {LINK}", f"An open ` is literal: {MARKDOWN_LINK}"),
    ],
    ids=[
        "prose",
        "paragraph in a list item, four columns in",
        "paragraph continuation line",
        "between code spans",
        "after an unmatched backtick",
    ],
)
def test_slack_links_outside_code_become_markdown_links(text: str, expected: str) -> None:
    assert slack_links_to_markdown(text) == expected


STREAMED = [
    f"Use `curl\n{LINK}\n--verbose` now, or {LINK}.\n",
    f"Use `curl\n{LINK}` now, or {LINK}.\n\nThen `a` and {LINK} and `b\n{LINK}\nc` done.\n",
    f"Run:\n\n    curl {LINK}\n\nok {LINK}\n```\n{LINK}\n```\nand `x\n> {LINK}` end\n",
    f"- item `x\n  {LINK}` and {LINK}\n\n> quote `q\n> {LINK}`\n",
]


@pytest.mark.parametrize("text", STREAMED)
def test_what_a_stream_sends_is_never_rendered_differently_later(text: str) -> None:
    """A streamed reply cannot take back what it sent: at every length the text written so
    far, rendered up to `settled_length`, is the start of the whole reply rendered."""
    whole = slack_links_to_markdown(text)
    for end in range(len(text) + 1):
        so_far = text[:end]
        assert whole.startswith(slack_links_to_markdown(so_far[: settled_length(so_far)]))
