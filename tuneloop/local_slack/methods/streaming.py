"""chat.startStream, chat.appendStream and chat.stopStream: a reply that grows while written.

The streamed message is an ordinary bot message whose text grows; it counts as finished once
stopped, when the blocks given to chat.stopStream (feedback buttons, say) are attached.
"""

from __future__ import annotations

from typing import Any

from tuneloop.local_slack.block_rules import MARKDOWN_TEXT
from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.methods.args import Args
from tuneloop.local_slack.methods.chat import checked_blocks
from tuneloop.local_slack.workspace import Workspace


def _new_text(args: Args) -> str:
    """The markdown this call adds: `markdown_text` and any markdown_text chunks."""
    pieces = [args.text("markdown_text")]
    for chunk in args.decoded("chunks") or []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            pieces.append(str(chunk.get("text", "")))
    text = "".join(pieces)
    if len(text) > MARKDOWN_TEXT:
        raise SlackApiFailure("msg_too_long")
    return text


def start(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = ws.channel(args.text("channel", required=True))
    if ws.bot.user_id not in channel.members:
        raise SlackApiFailure("not_in_channel")
    thread_ts = args.text("thread_ts", required=True)
    if not channel.is_im and not (
        args.text("recipient_user_id") and args.text("recipient_team_id")
    ):
        raise SlackApiFailure(
            "invalid_arguments",
            messages=["[ERROR] recipient_user_id and recipient_team_id are required in channels"],
        )
    recipient = ws.users.get(args.text("recipient_user_id"))
    if recipient is not None and args.text("recipient_team_id") != recipient["team_id"]:
        # Slack Connect: a guest from another organisation belongs to their own team.
        raise SlackApiFailure(
            "invalid_arguments",
            messages=["[ERROR] recipient_team_id must be the recipient user's team"],
        )
    message = ws.post(
        channel.id, user=ws.bot.user_id, text=_new_text(args), thread_ts=thread_ts, streaming=True
    )
    return {"channel": channel.id, "ts": message["ts"]}


def _streaming_message(ws: Workspace, args: Args) -> tuple[str, str, dict[str, Any]]:
    channel = ws.channel(args.text("channel", required=True)).id
    ts = args.text("ts", required=True)
    message = ws.message(channel, ts)
    if message is None:
        raise SlackApiFailure("message_not_found")
    if not ws.is_streaming(channel, ts):
        raise SlackApiFailure("message_not_in_streaming_state")
    return channel, ts, message


def append(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, ts, message = _streaming_message(ws, args)
    ws.edit(channel, ts, text=message["text"] + _new_text(args))
    return {"channel": channel, "ts": ts}


def stop(ws: Workspace, args: Args) -> dict[str, Any]:
    channel, ts, message = _streaming_message(ws, args)
    blocks = checked_blocks(args)
    with ws.changing(channel):
        final = ws.edit(
            channel,
            ts,
            text=message["text"] + _new_text(args),
            blocks=blocks or None,
            metadata=args.decoded("metadata"),
        )
        ws.set_streaming(channel, ts, False)
        if message.get("thread_ts"):
            ws.statuses.pop((channel, message["thread_ts"]), None)
    return {"channel": channel, "ts": ts, "message": final}


METHODS = {
    "chat.startStream": start,
    "chat.appendStream": append,
    "chat.stopStream": stop,
}
