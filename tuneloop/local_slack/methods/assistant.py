"""assistant.threads.setStatus, setSuggestedPrompts and setTitle.

setStatus works in any thread the bot can write to (Slack accepts `chat:write` for it since
2026); the status clears when the bot replies in the thread, or when set to "".
"""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args
from tuneloop.local_slack.workspace import Workspace

MAX_PROMPTS = 4


def set_status(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel_id", required=True))
    thread_ts = args.text("thread_ts", required=True)
    if ws.message(channel.id, thread_ts) is None:
        raise SlackApiFailure("invalid_thread_ts")
    ws.set_status(channel.id, thread_ts, args.text("status"))
    return {}


def set_suggested_prompts(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel_id", required=True))
    prompts = args.decoded("prompts")
    if not isinstance(prompts, list) or not prompts or len(prompts) > MAX_PROMPTS:
        raise SlackApiFailure("invalid_arguments")
    with ws.changing():
        ws.suggested_prompts[(channel.id, args.text("thread_ts"))] = prompts
    return {}


def set_title(ws: Workspace, args: Args) -> dict[str, Any]:
    ws.channel(args.text("channel_id", required=True))
    return {}


METHODS = {
    "assistant.threads.setStatus": set_status,
    "assistant.threads.setSuggestedPrompts": set_suggested_prompts,
    "assistant.threads.setTitle": set_title,
}
