"""Reply generation, apart from Slack: thread turns -> prompt within a tiktoken budget ->
streamed model call -> recorded Exchange."""

from bot.replies.budget import TokenBudget, fit_messages
from bot.replies.model_call import ModelCall, ModelFailure
from bot.replies.observer import ReplyObserver, ReplyRecord
from bot.replies.prompt import PromptBuilder
from bot.replies.service import Outcome, ReplyRequest, ReplyService
from bot.replies.sink import ReplySink
from bot.replies.turns import Turn

__all__ = [
    "ModelCall",
    "ModelFailure",
    "Outcome",
    "PromptBuilder",
    "ReplyObserver",
    "ReplyRecord",
    "ReplyRequest",
    "ReplyService",
    "ReplySink",
    "TokenBudget",
    "Turn",
    "fit_messages",
]
