"""The Web API methods the local workspace serves, by Slack's method name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneloop.local_slack.methods import apps, assistant, chat, misc, streaming, views
from tuneloop.local_slack.methods.args import Args
from tuneloop.local_slack.workspace import Workspace

Method = Callable[[Workspace, Args], dict[str, Any]]

METHODS: dict[str, Method] = {
    **misc.METHODS,
    **chat.METHODS,
    **streaming.METHODS,
    **views.METHODS,
    **assistant.METHODS,
    **apps.METHODS,
}

__all__ = ["METHODS", "Args", "Method"]
