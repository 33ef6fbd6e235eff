"""The bot's knobs, with defaults that suit a help desk. The composition root fills them from
settings; tests pass their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.conversation.delivery import DeliveryOptions
from bot.conversation.triggers import FollowUpRule
from bot.replies import TokenBudget
from bot.replies.prompt import DEFAULT_ENCODING

DEFAULT_SUGGESTED_PROMPTS: tuple[tuple[str, str], ...] = (
    ("What can you help with?", "What kinds of questions can you answer?"),
    ("Reset my password", "How do I reset my password?"),
    ("Book time off", "How do I book annual leave?"),
)


def _default_encoding(_model: str) -> str:
    return DEFAULT_ENCODING


@dataclass(frozen=True)
class BotConfig:
    budget: TokenBudget = field(default_factory=TokenBudget)
    #: The tiktoken encoding of a model id (the composition root reads the model table).
    encoding_for: Callable[[str], str] = _default_encoding
    model_timeout_s: float = 60.0
    #: Sampling temperature of replies; None: the model server's default.
    reply_temperature: float | None = None
    delivery: DeliveryOptions = field(default_factory=DeliveryOptions)
    streaming: bool = True
    #: Who may go on in a thread the bot answered without mentioning it (see
    #: `bot.conversation.triggers.FollowUps`).
    follow_ups: FollowUpRule = FollowUpRule.ASKER
    #: How long a person's or channel's name is kept before users.info / conversations.info
    #: are asked again.
    names_ttl_s: float = 3600.0
    #: Characters of an attached plain-text file put under the question (the prompt's token
    #: budget still applies to the whole).
    file_chars: int = 20_000
    #: Newest thread messages read for a prompt (before the token budget trims them).
    history_messages: int = 400
    #: Threads for Bolt's listeners: acks, clicks, modals (never model calls).
    listener_threads: int = 16
    #: Concurrent replies (each waits on the model); more questions queue.
    reply_workers: int = 256
    suggested_prompts: tuple[tuple[str, str], ...] = DEFAULT_SUGGESTED_PROMPTS
    #: Items shown on a reviewer's App Home (Slack allows 100 blocks per view).
    home_queue_items: int = 12
    #: Seconds a question waits in the process for an unreachable database before the person
    #: gets an apology (its claim and the reply's record are retried meanwhile).
    store_outage_wait_s: float = 600.0
