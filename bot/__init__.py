"""The Slack adapter: a Bolt app given its store, model client and active-model lookup.

Built in the shape of Slack's Bolt samples: a thin `build_app(...)`, `listeners/<kind>/` with
`register(app, deps)`, Block Kit builders in `blocks/`, and the model call in `replies/`, apart
from Slack. Imports curation (the store) and the openai SDK, never scheduler/ or tuneloop/.
"""

from bot.app import build_app
from bot.config import BotConfig
from bot.control import ControlError, RetrainingControl

__all__ = ["BotConfig", "ControlError", "RetrainingControl", "build_app"]
