"""Field cases "Code rewritten" and "Fence split", through the bot: every message of a reply
renders its code as code, byte for byte, with Slack rendering each message on its own (a
fence cut inside a list item included); Slack links are rewritten only outside code; and the
bot's own earlier answer comes back into the next prompt exactly as the model wrote it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from markdown_it import MarkdownIt

from bot import BotConfig
from bot.conversation.thread import to_turns
from bot.replies import Turn
from curation.capture import Reply
from curation.outage import StoreUnavailable
from tests.bot.conftest import Bot
from tests.bot.fakes import ScriptedModel

PARSER = MarkdownIt("commonmark")
LINK = "<https://api.example.com/v1|the API>"


def _code(markdown: str) -> str:
    """Every code block's content (fenced and indented), as a Markdown renderer reads it."""
    return "".join(t.content for t in PARSER.parse(markdown) if t.type in ("fence", "code_block"))


def _markdown(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message["blocks"] if b["type"] == "markdown")


def _steps(indent: str, count: int) -> str:
    return "".join(
        f"{indent}echo step {n} && sudo systemctl restart **app** # ok\n" for n in range(count)
    )


#: Replies over one message's 12,000 characters, with a long fence inside a list item.
LISTED_FENCES = {
    "nested item, five spaces": (
        "1. Step\n   - On Linux:\n\n     ```bash\n" + _steps("     ", 260) + "     ```\n\n"
        "     Then check the service.\n   - On Mac:\n\n     ```bash\n     brew services list\n"
        "     ```\n2. Done\n"
    ),
    "item, tab": "- On Linux:\n\n\t```bash\n" + _steps("\t", 260) + "\t```\n\n\tThen check it.\n",
}


@pytest.mark.parametrize("reply", LISTED_FENCES.values(), ids=LISTED_FENCES.keys())
def test_a_fence_cut_inside_a_list_item_is_code_on_every_page(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, reply: str
) -> None:
    scripted.reply = reply
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=False))
    said = bot.ask("How do I restart the app?")
    bot.settle()
    pages = [_markdown(message) for message in bot.ws.bot_replies(said.channel, said.ts)]
    assert len(pages) == 2
    assert "".join(_code(page) for page in pages) == _code(reply)  # byte for byte
    # The second page has no list: the fence is reopened at its left margin, not indented
    # four columns or more (an indented code block holding a literal "```bash" line).
    assert re.match(r" {0,3}```bash\n {0,3}echo step ", pages[1])
    assert "```bash" not in _code(pages[1])
    assert bot.exchanges()[0].reply == reply  # stored as the model wrote it


@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize(
    "code",
    [f"Run:\n\n    curl {LINK}\n", f"Call `curl\n{LINK}\n--verbose` from a shell.\n"],
    ids=["indented code block", "code span over three lines"],
)
def test_slack_links_in_code_arrive_as_written(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, code: str, streaming: bool
) -> None:
    """A Slack link in code is code: only the one in prose becomes a Markdown link."""
    prose = "Book leave in Workday under Time Off, then tell your manager. " * 8
    scripted.reply = f"{prose}\n\n{code}\nSee {LINK}.\n"
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=streaming))
    [reply] = bot.answered(bot.ask("How do I call the API?"))
    shown = _markdown(reply) if not streaming else _streamed(bot)
    assert shown == scripted.reply.replace(
        f"See {LINK}", "See [the API](https://api.example.com/v1)"
    )
    assert _code(shown) == _code(scripted.reply)


def _streamed(bot: Bot) -> str:
    calls = bot.ws.calls_to("chat.startStream") + bot.ws.calls_to("chat.appendStream")
    stop = bot.ws.calls_to("chat.stopStream")
    assert calls and stop  # it did stream
    return "".join(c.args["markdown_text"] for c in calls) + (
        stop[0].args.get("markdown_text") or ""
    )


@pytest.mark.parametrize(
    "answer",
    [
        "In HTML write `&amp;` for an ampersand and `&lt;br&gt;` for a line break.",
        "```html\n<p>Fish &amp; chips &lt;3</p>\n```\nand in a shell: `[ $a -lt 3 ] && echo ok`",
        f"Call it with `curl {LINK}` or read {LINK}.",
        "```\n" + "x = a & b  # bitwise and: &amp; is not an operator\n" * 400 + "```",
    ],
    ids=["entities in code", "an html snippet", "slack links", "a reply over two messages"],
)
def test_the_bots_earlier_answer_is_its_turn_as_the_model_wrote_it(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, answer: str
) -> None:
    """The next question in the thread carries the bot's answer byte for byte: not Slack's
    text of it unescaped (`&amp;` read as `&`), nor its pages with links rewritten."""
    scripted.reply = answer
    bot = make_bot(openai_client=scripted.client(), config=BotConfig(streaming=False))
    first = bot.ask("How do I write these?")
    bot.replies(first)
    bot.settle()
    scripted.reply = "Yes."
    shown = len(bot.ws.bot_replies(first.channel, first.ts))  # counted before asking again
    bot.ask("And in Markdown?", thread_ts=first.ts)
    bot.replies(first, count=shown + 1)
    bot.settle()
    sent = [m for m in scripted.requests[1]["messages"] if m["role"] == "assistant"]
    assert sent == [{"role": "assistant", "content": answer}]
    stored = [m for m in bot.exchanges()[1].prompt_messages if m["role"] == "assistant"]
    assert stored == [{"role": "assistant", "content": answer}]


def test_a_persons_escaped_text_is_still_read_as_they_typed_it(
    make_bot: Callable[..., Bot], scripted: ScriptedModel
) -> None:
    """Slack escapes what people type; their turns are unescaped as before."""
    bot = make_bot(openai_client=scripted.client())
    first = bot.ask("Is a &lt; b &amp;&amp; c &gt; d valid?")
    bot.replies(first)
    bot.ask("And `&lt;br&gt;`?", thread_ts=first.ts)
    bot.replies(first, count=2)
    bot.settle()
    users = [m["content"] for m in scripted.requests[1]["messages"] if m["role"] == "user"]
    assert users == ["Is a < b && c > d valid?", "And `<br>`?"]


def test_thread_turns_take_the_bots_messages_from_its_stored_replies() -> None:
    """One turn per stored reply (a reply in two messages is one turn), as stored; a message
    of the bot's that no stored reply covers, and people's messages, as Slack gives them."""
    bot_id, person = "UBOT", "UALICE"
    messages = [
        {"ts": "1.0", "user": person, "text": "Is `a &amp;&amp; b` right?"},
        {"ts": "2.0", "user": bot_id, "text": "page one `&amp;`"},
        {"ts": "3.0", "user": bot_id, "text": "page two"},
        {"ts": "4.0", "user": bot_id, "text": "not stored `&amp;`"},
        {"ts": "5.0", "user": person, "text": "Thanks"},
    ]
    whole = Reply(7, "page one `&amp;`\npage two\n")
    turns = to_turns(messages, bot_user_id=bot_id, upto_ts="5.0", own={"2.0": whole, "3.0": whole})
    assert turns == [
        Turn("user", "Is `a && b` right?"),
        Turn("assistant", whole.text),
        Turn("assistant", "not stored `&`"),
        Turn("user", "Thanks"),
    ]


def test_without_the_store_the_bots_turns_are_read_from_slack(
    make_bot: Callable[..., Bot], scripted: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored replies cannot be read: the answer still comes, with the bot's turn read
    from Slack's text as before (unescaped)."""
    scripted.reply = "Write `&amp;`."
    bot = make_bot(openai_client=scripted.client())
    first = bot.ask("How do I write an ampersand in HTML?")
    bot.replies(first)
    bot.settle()
    scripted.reply = "Yes."

    def outage(*args: object) -> NoReturn:
        raise StoreUnavailable("the database could not be reached")

    monkeypatch.setattr(bot.store.capture, "thread_replies", outage)
    bot.ask("And sick days?", thread_ts=first.ts)
    bot.replies(first, count=2)
    bot.settle()
    sent = [m for m in scripted.requests[1]["messages"] if m["role"] == "assistant"]
    assert sent == [{"role": "assistant", "content": "Write `&`."}]
    assert len(bot.exchanges()) == 2
