"""The state of a local Slack workspace: people, channels, messages, views, statuses.

One object, guarded by one lock, that both sides change: the Web API methods the bot calls
(`tuneloop.local_slack.methods`) and the driver that plays the people in it
(`tuneloop.local_slack.driver`). Every change wakes `wait_until`, so tests and the terminal
chat wait for the bot's replies without sleeping. Messages and views are kept in Slack's JSON
shapes, so what the bot reads back is what Slack would send it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tuneloop.local_slack.errors import SlackApiFailure
from tuneloop.local_slack.faults import SlackFaults
from tuneloop.local_slack.ids import TsClock, secret_token, slack_id

T = TypeVar("T")
Json = dict[str, Any]

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists and scalars): what `copy.deepcopy` does
    here, several times faster, since it needs no memo and no dispatch on types. The
    workspace hands out copies so that nobody changes its state behind its lock."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


@dataclass(frozen=True)
class BotIdentity:
    """The app's bot user, and the token the bot authenticates with."""

    user_id: str
    bot_id: str
    app_id: str
    token: str
    name: str


@dataclass
class Channel:
    id: str
    name: str
    kind: str  # "channel", "group" (private), "im" or "mpim"
    members: set[str] = field(default_factory=set)

    @property
    def is_im(self) -> bool:
        return self.kind == "im"


@dataclass(frozen=True)
class ApiCall:
    method: str
    args: Json


class Workspace:
    """A Slack workspace in memory. Thread-safe; every public method takes the lock."""

    def __init__(
        self,
        *,
        team_id: str = "T0LOCAL01",
        team_domain: str = "tuneloop-local",
        bot_name: str = "tuneloop",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._channel_changed: dict[str, threading.Condition] = {}
        self._ts = TsClock(now)
        self._now = now
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot = BotIdentity(
            user_id=slack_id("U"),
            bot_id=slack_id("B"),
            app_id=slack_id("A"),
            token=secret_token("xoxb-local"),
            name=bot_name,
        )
        #: The app-level token (`xapp-`) that opens Socket Mode connections.
        self.app_token = secret_token("xapp-1-local")
        #: Set by the server that plays Socket Mode: issues `apps.connections.open`'s URL.
        self.socket_mode_url: Callable[[], str] | None = None
        #: Why the app's tokens stopped working (`app_uninstalled`, `tokens_revoked`), if so.
        self.revoked: str | None = None
        self.faults = SlackFaults()
        #: Set by the server once it listens; response URLs point at it.
        self.public_url = "http://127.0.0.1"
        self.users: dict[str, Json] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, set[str]] = {}
        self.calls: list[ApiCall] = []
        self.ephemerals: list[Json] = []
        self.statuses: dict[tuple[str, str], str] = {}
        self.status_log: list[tuple[str, str, str]] = []
        self.suggested_prompts: dict[tuple[str, str], list[Json]] = {}
        self.views: dict[str, Json] = {}
        self.view_errors: dict[str, dict[str, str]] = {}
        self.home_views: dict[str, str] = {}
        self.modal_stacks: dict[str, list[str]] = {}
        self.response_urls: dict[str, Json] = {}
        self._messages: dict[str, list[Json]] = {}
        self._streaming: set[tuple[str, str]] = set()
        self._deleted: dict[str, set[str]] = {}
        self.file_contents: dict[str, bytes] = {}
        self._triggers: dict[str, str] = {}
        self._add_user(self.bot.user_id, bot_name, is_bot=True)

    # --- waiting ------------------------------------------------------------------------------
    def _condition(self, channel: str | None) -> threading.Condition:
        if channel is None:
            return self._changed
        return self._channel_changed.setdefault(channel, threading.Condition(self.lock))

    @contextmanager
    def changing(self, channel: str | None = None) -> Iterator[None]:
        """Hold the lock for a change and wake the waiters afterwards: all general waiters,
        and those waiting on `channel` (so 50 people waiting in 50 channels are not all woken
        by every message)."""
        with self._changed:
            yield
            self._changed.notify_all()
            if channel is not None and channel in self._channel_changed:
                self._channel_changed[channel].notify_all()

    def wait_until(
        self,
        probe: Callable[[], T | None],
        timeout: float = 10.0,
        what: str = "a change",
        *,
        channel: str | None = None,
    ) -> T:
        """Block until `probe()` (called under the lock) returns something truthy; return it.
        With `channel`, only changes in that channel wake the wait."""
        deadline = time.monotonic() + timeout
        condition = self._condition(channel)
        with condition:
            while True:
                found = probe()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
                condition.wait(left)

    # --- people and channels --------------------------------------------------------------------
    def _add_user(self, user_id: str, name: str, *, is_bot: bool = False, **extra: Any) -> None:
        real_name = extra.pop("real_name", name)
        self.users[user_id] = {
            "id": user_id,
            "team_id": extra.pop("team_id", self.team_id),
            "name": name,
            "real_name": real_name,
            "is_bot": is_bot,
            "is_admin": extra.pop("is_admin", False),
            "deleted": False,
            "tz": "Europe/London",
            "profile": {"display_name": name, "real_name": real_name},
            **({"bot_id": self.bot.bot_id} if is_bot else {}),
        }

    def add_user(self, name: str, *, user_id: str | None = None, **extra: Any) -> str:
        with self.changing():
            uid = user_id or slack_id("U")
            self._add_user(uid, name, **extra)
            return uid

    def add_channel(
        self,
        name: str,
        *,
        members: Iterable[str] = (),
        private: bool = False,
        bot_member: bool = True,
        channel_id: str | None = None,
    ) -> str:
        with self.changing():
            cid = channel_id or slack_id("G" if private else "C")
            people = set(members) | ({self.bot.user_id} if bot_member else set())
            self.channels[cid] = Channel(cid, name, "group" if private else "channel", people)
            self._messages[cid] = []
            return cid

    def dm_channel(self, user_id: str) -> str:
        """The direct-message channel between `user_id` and the bot (made on first use)."""
        with self.changing():
            for channel in self.channels.values():
                if channel.is_im and channel.members == {user_id, self.bot.user_id}:
                    return channel.id
            cid = slack_id("D")
            self.channels[cid] = Channel(cid, user_id, "im", {user_id, self.bot.user_id})
            self._messages[cid] = []
            return cid

    def add_usergroup(self, handle: str, members: Iterable[str]) -> str:
        with self.changing():
            gid = slack_id("S")
            self.usergroups[gid] = set(members)
            return gid

    def channel(self, channel_id: str) -> Channel:
        with self.lock:
            found = self.channels.get(channel_id)
            if found is None:
                raise SlackApiFailure("channel_not_found")
            return found

    def resolve_channel(self, channel_or_user: str) -> Channel:
        """A channel id, or a user id (Slack opens the DM with that user)."""
        with self.lock:
            if channel_or_user in self.users and channel_or_user not in self.channels:
                return self.channels[self.dm_channel(channel_or_user)]
            return self.channel(channel_or_user)

    # --- messages ---------------------------------------------------------------------------------
    def post(
        self,
        channel_id: str,
        *,
        user: str,
        text: str = "",
        thread_ts: str | None = None,
        blocks: list[Json] | None = None,
        metadata: Json | None = None,
        streaming: bool = False,
        files: list[Json] | None = None,
    ) -> Json:
        """Add a message (from a person or the bot) and return a copy of it. `files` (from
        `upload`) make it a `file_share` message, as Slack sends one."""
        with self.changing(channel_id):
            channel = self.channel(channel_id)
            ts = self._ts.next()
            message: Json = {
                "type": "message",
                "user": user,
                "text": text,
                "ts": ts,
                # A Slack Connect guest's messages carry the guest's own team.
                "team": self.users.get(user, {}).get("team_id", self.team_id),
            }
            if message["team"] != self.team_id:
                message["user_team"] = message["source_team"] = message["team"]
            if user == self.bot.user_id:
                message["bot_id"] = self.bot.bot_id
                message["app_id"] = self.bot.app_id
            if blocks:
                message["blocks"] = copy_json(blocks)
            if metadata:
                message["metadata"] = copy_json(metadata)
            if files:
                message["files"] = copy_json(files)
                message["subtype"] = "file_share"
                message["upload"] = True
            root = self._find(channel.id, thread_ts) if thread_ts else None
            if thread_ts and root is None and thread_ts not in self._deleted.get(channel.id, ()):
                raise SlackApiFailure("thread_not_found")
            # A reply to a deleted message lands in the channel itself, as on Slack.
            if root is not None:
                message["thread_ts"] = thread_ts
                message["parent_user_id"] = root["user"]
                root["thread_ts"] = thread_ts
                root["reply_count"] = root.get("reply_count", 0) + 1
                root["latest_reply"] = ts
                if user == self.bot.user_id:
                    # Slack clears the "thinking..." status when the app replies in the thread.
                    self.statuses.pop((channel.id, thread_ts), None)
            self._messages[channel.id].append(message)
            if streaming:
                self._streaming.add((channel.id, ts))
            return copy_json(message)

    def delete(self, channel_id: str, ts: str) -> tuple[Json, bool]:
        """Delete a message as Slack does: (the message as it was, tombstoned). A thread's
        root with replies stays as a tombstone ("This message was deleted."); any other
        message goes, and its thread loses a reply."""
        with self.changing(channel_id):
            found = self._find(channel_id, ts)
            if found is None:
                raise SlackApiFailure("message_not_found")
            previous = copy_json(found)
            has_replies = found.get("thread_ts") == ts and found.get("reply_count", 0) > 0
            if has_replies:
                for key in ("text", "blocks", "files", "metadata", "user", "bot_id", "app_id"):
                    found.pop(key, None)
                found.update(
                    {"subtype": "tombstone", "text": "This message was deleted.", "hidden": True}
                )
                found["user"] = "USLACKBOT"
            else:
                self._messages[channel_id].remove(found)
                self._deleted.setdefault(channel_id, set()).add(ts)
                self.statuses.pop((channel_id, ts), None)  # its thread went with it
                root_ts = found.get("thread_ts")
                root = self._find(channel_id, root_ts) if root_ts and root_ts != ts else None
                if root is not None:
                    root["reply_count"] = max(0, root.get("reply_count", 1) - 1)
            self._streaming.discard((channel_id, ts))
            return previous, has_replies

    def upload(self, user: str, name: str, content: bytes, *, mimetype: str, filetype: str) -> Json:
        """A file `user` uploads, as Slack describes it in a message's `files`; its bytes are
        served at `url_private` to the bot's token only."""
        with self.changing():
            file_id = slack_id("F")
            self.file_contents[file_id] = content
            url = f"{self.public_url}/files/{file_id}/{name}"
            return {
                "id": file_id,
                "name": name,
                "title": name,
                "mimetype": mimetype,
                "filetype": filetype,
                "size": len(content),
                "user": user,
                "url_private": url,
                "url_private_download": f"{url}?download=1",
            }

    def next_ts(self) -> str:
        """A fresh message ts (an event's own ts, say)."""
        with self.lock:
            return self._ts.next()

    def _find(self, channel_id: str, ts: str) -> Json | None:
        for message in reversed(self._messages.get(channel_id, [])):
            if message["ts"] == ts:
                return message
        return None

    def message(self, channel_id: str, ts: str) -> Json | None:
        with self.lock:
            found = self._find(channel_id, ts)
            return copy_json(found) if found is not None else None

    def edit(self, channel_id: str, ts: str, **fields: Any) -> Json:
        """Change a stored message in place (chat.update, streaming appends)."""
        with self.changing(channel_id):
            found = self._find(channel_id, ts)
            if found is None:
                raise SlackApiFailure("message_not_found")
            for key, value in fields.items():
                if value is None:
                    found.pop(key, None)
                else:
                    found[key] = copy_json(value)
            return copy_json(found)

    def history(self, channel_id: str) -> list[Json]:
        with self.lock:
            return copy_json(self._messages.get(channel_id, []))

    def thread(self, channel_id: str, thread_ts: str) -> list[Json]:
        """The thread's root and its replies, oldest first (as conversations.replies orders)."""
        with self.lock:
            return [
                copy_json(m)
                for m in self._messages.get(channel_id, [])
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def is_streaming(self, channel_id: str, ts: str) -> bool:
        with self.lock:
            return (channel_id, ts) in self._streaming

    def set_streaming(self, channel_id: str, ts: str, streaming: bool) -> None:
        with self.changing(channel_id):
            if streaming:
                self._streaming.add((channel_id, ts))
            else:
                self._streaming.discard((channel_id, ts))

    def bot_replies(self, channel_id: str, thread_ts: str, *, finished: bool = True) -> list[Json]:
        """The bot's messages in a thread; with `finished`, only those no longer streaming."""
        with self.lock:
            return [
                copy_json(m)
                for m in self._messages.get(channel_id, [])
                if m.get("thread_ts") == thread_ts
                and m["ts"] != thread_ts
                and m.get("user") == self.bot.user_id
                and not (finished and (channel_id, m["ts"]) in self._streaming)
            ]

    def wait_for_bot_replies(
        self, channel_id: str, thread_ts: str, count: int = 1, timeout: float = 10.0
    ) -> list[Json]:
        """Wait until the bot has finished `count` replies in the thread; return them all."""

        def probe() -> list[Json] | None:
            replies = self.bot_replies(channel_id, thread_ts)
            return replies if len(replies) >= count else None

        what = f"{count} bot repl(ies) in {channel_id}/{thread_ts}"
        return self.wait_until(probe, timeout, what, channel=channel_id)

    def add_reaction(self, channel_id: str, ts: str, user: str, name: str) -> Json:
        with self.changing(channel_id):
            found = self._find(channel_id, ts)
            if found is None:
                raise SlackApiFailure("message_not_found")
            reactions: list[Json] = found.setdefault("reactions", [])
            entry = next((r for r in reactions if r["name"] == name), None)
            if entry is None:
                entry = {"name": name, "users": [], "count": 0}
                reactions.append(entry)
            if user in entry["users"]:
                raise SlackApiFailure("already_reacted")
            entry["users"].append(user)
            entry["count"] = len(entry["users"])
            return copy_json(found)

    @staticmethod
    def mentions(text: str) -> list[str]:
        return _MENTION.findall(text or "")

    # --- ephemeral messages, statuses, prompts ---------------------------------------------------
    def post_ephemeral(
        self,
        channel_id: str,
        user: str,
        *,
        text: str = "",
        blocks: list[Json] | None = None,
        thread_ts: str | None = None,
        source: str = "chat.postEphemeral",
    ) -> Json:
        with self.changing(channel_id):
            entry = {
                "channel": channel_id,
                "user": user,
                "text": text,
                "blocks": copy_json(blocks or []),
                "thread_ts": thread_ts,
                "message_ts": self._ts.next(),
                "source": source,
            }
            self.ephemerals.append(entry)
            return copy_json(entry)

    def ephemerals_for(self, user: str) -> list[Json]:
        with self.lock:
            return [copy_json(e) for e in self.ephemerals if e["user"] == user]

    def set_status(self, channel_id: str, thread_ts: str, status: str) -> None:
        # Not a message: only general waiters wake, not those waiting on the channel's messages.
        with self.changing():
            self.status_log.append((channel_id, thread_ts, status))
            if status:
                self.statuses[(channel_id, thread_ts)] = status
            else:
                self.statuses.pop((channel_id, thread_ts), None)

    # --- triggers and views -------------------------------------------------------------------
    def issue_trigger(self, user: str) -> str:
        """A trigger id for one views.open, as Slack sends with a click or a command."""
        with self.changing():
            trigger = f"{int(self._now())}.{secret_token('trigger')}"
            self._triggers[trigger] = user
            return trigger

    def take_trigger(self, trigger_id: str) -> str:
        with self.changing():
            user = self._triggers.pop(trigger_id, None)
            if user is None:
                raise SlackApiFailure("invalid_trigger_id")
            return user

    def _view_object(self, view: Json, *, view_id: str, previous: Json | None) -> Json:
        stored = copy_json(view)
        stored.update(
            {
                "id": view_id,
                "team_id": self.team_id,
                "app_id": self.bot.app_id,
                "bot_id": self.bot.bot_id,
                "hash": secret_token("hash"),
                "state": {"values": {}},
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
                "root_view_id": previous.get("root_view_id", view_id) if previous else view_id,
                "previous_view_id": None,
            }
        )
        return stored

    def open_modal(self, user: str, view: Json, *, push: bool = False) -> Json:
        with self.changing():
            stack = self.modal_stacks.setdefault(user, [])
            if push and not stack:
                raise SlackApiFailure("not_found")
            previous = self.views.get(stack[-1]) if push and stack else None
            if not push:
                stack.clear()
            view_id = slack_id("V")
            stored = self._view_object(view, view_id=view_id, previous=previous)
            self.views[view_id] = stored
            stack.append(view_id)
            return copy_json(stored)

    def replace_view(self, view_id: str, view: Json) -> Json:
        with self.changing():
            old = self.views.get(view_id)
            if old is None:
                raise SlackApiFailure("not_found")
            stored = self._view_object(view, view_id=view_id, previous=old)
            stored["root_view_id"] = old.get("root_view_id", view_id)
            self.views[view_id] = stored
            self.view_errors.pop(view_id, None)
            return copy_json(stored)

    def publish_home(self, user: str, view: Json) -> Json:
        with self.changing():
            if user not in self.users:
                raise SlackApiFailure("user_not_found")
            view_id = self.home_views.get(user) or slack_id("V")
            stored = self._view_object(view, view_id=view_id, previous=None)
            self.views[view_id] = stored
            self.home_views[user] = view_id
            return copy_json(stored)

    def view(self, view_id: str) -> Json:
        with self.lock:
            found = self.views.get(view_id)
            if found is None:
                raise KeyError(f"no view {view_id}")
            return copy_json(found)

    def home_of(self, user: str) -> Json | None:
        with self.lock:
            view_id = self.home_views.get(user)
            return copy_json(self.views[view_id]) if view_id else None

    def top_modal(self, user: str) -> Json | None:
        with self.lock:
            stack = self.modal_stacks.get(user) or []
            return copy_json(self.views[stack[-1]]) if stack else None

    def close_modal(self, user: str, view_id: str, *, all_views: bool = False) -> None:
        with self.changing():
            stack = self.modal_stacks.get(user, [])
            if all_views:
                stack.clear()
            elif view_id in stack:
                stack.remove(view_id)
            self.view_errors.pop(view_id, None)

    def set_view_errors(self, view_id: str, errors: dict[str, str]) -> None:
        with self.changing():
            self.view_errors[view_id] = dict(errors)

    # --- the call log ---------------------------------------------------------------------------
    def record_call(self, method: str, args: Json) -> None:
        with self.lock:  # nobody waits on the log, so no wake-up
            self.calls.append(ApiCall(method, dict(args)))

    def calls_to(self, method: str) -> list[ApiCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]
