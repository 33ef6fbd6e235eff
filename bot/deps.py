"""What every listener may need, built once in `build_app` and passed to each `register`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import BotConfig
from bot.control import RetrainingControl
from bot.conversation.responder import Responder
from curation.store import Store


@dataclass(frozen=True)
class Deps:
    store: Store
    responder: Responder
    control: RetrainingControl
    config: BotConfig
