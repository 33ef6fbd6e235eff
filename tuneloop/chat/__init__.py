"""`tuneloop chat`: you, in the local Slack workspace, talking to the real bot, with the
retraining scheduler running in the background."""

from tuneloop.chat.session import ChatSession, open_chat

__all__ = ["ChatSession", "open_chat"]
