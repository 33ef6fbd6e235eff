"""Fit a thread into the prompt budget: the system prompt and the newest turns stay.

Counted with tiktoken in the chat format OpenAI bills (curation.tokens), so the budget is the
real prompt size. The oldest turns are dropped first; the question itself always stays (cut
to fit if it alone is too long), and a history never starts with a bot turn, so a kept
conversation reads as it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import tiktoken

from bot.replies.turns import Turn
from curation.tokens import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, count_text

CUT_MARK = " …"


@dataclass(frozen=True)
class TokenBudget:
    """How many tokens a prompt, a reply and a correction may have."""

    prompt_tokens: int = 8000
    reply_tokens: int = 1024
    correction_tokens: int = 1024

    def __post_init__(self) -> None:
        if min(self.prompt_tokens, self.reply_tokens, self.correction_tokens) < 1:
            raise ValueError("token budgets must be positive")


def _framing(role: str, encoding: tiktoken.Encoding) -> int:
    """A message's tokens besides its text: the framing and its role (OpenAI's cookbook)."""
    return TOKENS_PER_MESSAGE + count_text(role, encoding)


def _cost(role: str, text: str, encoding: tiktoken.Encoding) -> int:
    return _framing(role, encoding) + count_text(text, encoding)


def _cut(text: str, tokens: int, encoding: tiktoken.Encoding) -> str:
    """The start of `text`, at most `tokens` tokens including the cut mark."""
    room = max(0, tokens - count_text(CUT_MARK, encoding))
    encoded = encoding.encode(text, disallowed_special=())
    return encoding.decode(encoded[:room]) + CUT_MARK


def fit_messages(
    system_prompt: str | None,
    turns: Sequence[Turn],
    budget_tokens: int,
    encoding: tiktoken.Encoding,
    *,
    system_tokens: int | None = None,
) -> list[dict[str, str]]:
    """Chat messages for the model: system prompt, then as many of the newest turns as fit.

    `system_tokens`, the system prompt's count in `encoding` when the caller knows it, spares
    counting the same text again for every reply."""
    if not turns:
        raise ValueError("a prompt needs at least the question")
    used = REPLY_PRIMING_TOKENS
    head: list[dict[str, str]] = []
    if system_prompt:
        head.append({"role": "system", "content": system_prompt})
        if system_tokens is None:
            system_tokens = count_text(system_prompt, encoding)
        used += _framing("system", encoding) + system_tokens
    question = turns[-1]
    question_cost = _cost(question.role, question.content, encoding)
    if used + question_cost > budget_tokens:
        room = max(1, budget_tokens - used - _framing(question.role, encoding))
        return [*head, {"role": question.role, "content": _cut(question.content, room, encoding)}]
    used += question_cost
    kept = [question]
    for turn in reversed(turns[:-1]):
        cost = _cost(turn.role, turn.content, encoding)
        if used + cost > budget_tokens:
            break
        used += cost
        kept.append(turn)
    kept.reverse()
    while len(kept) > 1 and kept[0].role == "assistant":
        kept.pop(0)
    return [*head, *(turn.as_message() for turn in kept)]
