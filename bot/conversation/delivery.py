"""Delivering a reply into a Slack thread: status, streaming, and post-then-update.

The thread shows "is thinking..." (assistant.threads.setStatus) while the model works. The
reply streams with Slack's chat streaming (chat.startStream, appendStream, stopStream) as
standard Markdown (`markdown_text`). Where streaming is not available (Slack answers
`unknown_method`, or it is switched off), the reply is posted once enough text has arrived
and then updated, at most once per `update_interval_s`, as `markdown` blocks: a reply longer
than one message's 12,000 characters of markdown continues in further messages
(`bot.blocks.markdown` closes and reopens a code block cut between them). Either way the
feedback controls come last, in chat.stopStream's `blocks` or the last message's update.

Rate limits never lose a reply: every call is sent again after Slack's `Retry-After`, with
the whole text, while the reply's waiting budget lasts (`bot.conversation.rate_limits`). A
call that still fails does not stop the model: the text keeps arriving, and `finish` tries
once more to show all of it. If that fails too, `finish` raises `Undelivered` and the caller
keeps the answer for a later delivery; `give_up` then clears the status and leaves a short
notice where Slack lets it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.ids import APOLOGY_EVENT
from bot.blocks.markdown import MARKDOWN_LIMIT, settled_length, slack_links_to_markdown
from bot.blocks.reply import fallback_text, notes_block, page_blocks, reply_controls, reply_pages
from bot.conversation.rate_limits import RateLimitBudget
from bot.conversation.status import DeferredStatus, DelayedCalls
from bot.threads import started_pool

log = logging.getLogger("tuneloop.bot.delivery")

#: Errors that mean this workspace has no chat streaming (not a passing failure).
STREAMING_MISSING = frozenset(
    {"unknown_method", "not_allowed_token_type", "method_deprecated", "feature_not_enabled"}
)
#: A reply longer than this is cut with a note (three messages of markdown).
MAX_REPLY_CHARS = 36_000
CUT_NOTE = "\n\n_(This answer was too long for Slack and was cut here.)_"
UNDELIVERED_NOTICE = (
    ":hourglass: Slack is busy and would not take my answer just now. "
    "I'll post it here as soon as it lets me."
)
#: What the notice says once the bot stops trying (`DeliveryOptions.redeliver_after_s` spent,
#: or the answer found too late after a restart).
GAVE_UP_NOTICE = (
    ":warning: Slack would not take my answer to this, and it is too late to post it now. "
    "Please ask again."
)
APOLOGY_METADATA = {"event_type": APOLOGY_EVENT, "event_payload": {"kind": "apology"}}
#: Threads for status calls, which run beside the model call once a reply has kept people
#: waiting for `DeliveryOptions.status_delay_s`. Shared by every reply in the process: the
#: calls are short and wait on nothing, so a few threads serve any number of replies.
STATUS_THREADS = 16
_status_lock = threading.Lock()
_status_timers: DelayedCalls | None = None


def status_timers() -> DelayedCalls:
    """The process's timers for status calls, on STATUS_THREADS threads started on first use
    (`bot.threads`): the responder asks for them when the bot is built."""
    global _status_timers
    with _status_lock:
        if _status_timers is None:
            _status_timers = DelayedCalls(started_pool(STATUS_THREADS, "tuneloop-status"))
        return _status_timers


def _error_code(error: SlackApiError) -> str:
    return str(error.response.get("error", "")) if error.response is not None else ""


class Undelivered(Exception):
    """Slack would not take the reply (rate limits beyond the budget, or another refusal)."""


class StreamingSwitch:
    """Whether to try chat streaming. Turned off for the process, with one log line, once
    Slack says the methods do not exist here, so later replies skip the failing call."""

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._enabled

    def disable(self, reason: str) -> None:
        with self._lock:
            if self._enabled:
                self._enabled = False
                log.warning("chat streaming is not available (%s): posting and updating", reason)


@dataclass(frozen=True)
class DeliveryOptions:
    status: str = "is thinking..."
    loading_messages: tuple[str, ...] = ()
    #: The status shows once a reply has taken this long (0: at once); a sooner reply skips it.
    status_delay_s: float = 0.3
    #: Characters gathered before the first Slack call (and between stream appends).
    buffer_chars: int = 256
    update_interval_s: float = 1.0
    #: Seconds one reply may spend waiting out Slack's rate limits before it is kept for later.
    rate_limit_budget_s: float = 30.0
    #: How the waits are spent (tests pass one that only records them).
    sleep: Callable[[float], None] = time.sleep
    #: A reply Slack would not take is delivered again after these delays, one per attempt,
    #: counted in the store (a replica that takes it over after a restart goes on counting);
    #: once they are spent the reply is given up (kept in the store as failed).
    redeliver_after_s: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)


class SlackReplySink:
    """A `bot.replies.ReplySink` for one thread."""

    def __init__(
        self,
        client: WebClient,
        *,
        channel: str,
        thread_ts: str,
        user_id: str,
        team_id: str,
        streaming: StreamingSwitch,
        options: DeliveryOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`team_id` is the asker's own team (a Slack Connect guest's, not this workspace's):
        Slack wants it as chat.startStream's `recipient_team_id`."""
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._user_id = user_id
        self._team_id = team_id
        self._switch = streaming
        self._options = options
        self._clock = clock
        self._calls = RateLimitBudget(options.rate_limit_budget_s, sleep=options.sleep)
        self._status = DeferredStatus(
            self._set_status, delay_s=options.status_delay_s, timers=status_timers()
        )
        self._text = ""
        self._cut = False
        #: A Slack call failed for good: no more progress, `finish` tries once more.
        self._stalled = False
        # streaming
        self._streaming = streaming.enabled
        self._stream_ts: str | None = None
        self._sent = 0  # characters of the rendered reply the stream has
        # post-then-update: one message per page; the text each shows
        self._pages: list[str] = []
        self._shown: list[str | None] = []
        self._last_update = 0.0
        #: The ts of the "I'll post it later" notice `give_up` left, if it could.
        self.notice_ts: str | None = None

    @property
    def waits(self) -> list[float]:
        """The rate-limit waits this reply sat out, in seconds."""
        return list(self._calls.waits)

    @property
    def message_ts(self) -> list[str]:
        """Every message of the reply in Slack so far, oldest first."""
        return list(self._pages) or ([self._stream_ts] if self._stream_ts else [])

    # --- ReplySink ------------------------------------------------------------------------------
    def thinking(self) -> None:
        """Show the status beside the model call if the reply is slow to come (see
        `bot.conversation.status`); every post settles it first, so a late status never
        outlives the reply."""
        self._status.start()

    def write(self, text: str) -> None:
        if self._cut:
            return
        room = MAX_REPLY_CHARS - len(self._text)
        if len(text) >= room:
            text, self._cut = text[:room], True
        self._text += text
        if self._stalled:
            return
        try:
            if self._streaming:
                self._stream_out()
            else:
                self._post_progress(force=False)
        except SlackApiError as error:
            log.warning("Slack refused part of a reply (%s); trying again at the end", error)
            self._stalled = True

    def settle(self) -> str | None:
        """The ts of the reply's first message if part of it is shown already; None for a
        reply short enough to have stayed in the buffer (`finish` posts it whole)."""
        ts = self.message_ts
        return ts[0] if ts else None

    def finish(self, exchange_id: int, notes: Sequence[str] = ()) -> str | None:
        """Show the whole reply with `notes` and the controls; the ts of the message that
        carries the controls. Raises Undelivered when Slack will not take it."""
        self._status.settle()
        tail = notes_block(notes) + reply_controls(exchange_id)
        try:
            if self._streaming and self._stream_ts is not None:
                try:
                    return self._stop_stream(tail)
                except SlackApiError as error:
                    if _error_code(error) == "ratelimited":
                        raise
                    self._leave_streaming(error)
            return self._show_pages(tail)
        except SlackApiError as error:
            raise Undelivered(f"Slack refused the reply: {_error_code(error)}") from error

    def apologise(self, text: str) -> None:
        self._status.settle()
        if self._streaming and self._stream_ts is not None:
            try:
                self._calls.call(
                    "chat.stopStream",
                    lambda: self._client.chat_stopStream(
                        channel=self._channel,
                        ts=self._stream_ts or "",
                        markdown_text=f"\n\n{text}",
                        metadata=APOLOGY_METADATA,
                    ),
                )
                return
            except SlackApiError as error:
                self._leave_streaming(error)
        if self._pages:
            self._show(reply_pages(f"{self._text}\n\n{text}"), [])
            return
        self._calls.call(
            "chat.postMessage",
            lambda: self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=text,
                metadata=APOLOGY_METADATA,
            ),
        )

    def adopt(self, message_ts: Sequence[str]) -> None:
        """Show the reply in these messages, posted for it by an earlier attempt (oldest
        first), rewriting them, rather than post it again below them. Before any `write`.

        A stream the earlier attempt left open (its process died mid-reply) is stopped
        first, so the message can be rewritten; one that is stopped already is left be."""
        if message_ts:
            self._streaming = False  # a stopped stream message is rewritten by chat.update
            self._pages, self._shown = list(message_ts), [None] * len(message_ts)
            try:
                self._client.chat_stopStream(channel=self._channel, ts=self._pages[-1])
            except SlackApiError as error:
                if _error_code(error) != "message_not_in_streaming_state":
                    log.info("could not stop the earlier stream: %s", _error_code(error))

    def give_up(self) -> str | None:
        """After `Undelivered`: clear the status and leave one short notice, each tried once
        (Slack may still be refusing); the notice's ts, if it could. Never raises."""
        self._status.settle()
        try:
            self._client.assistant_threads_setStatus(
                channel_id=self._channel, thread_ts=self._thread_ts, status=""
            )
        except SlackApiError as error:
            log.warning("could not clear the thread status: %s", _error_code(error))
        try:
            notice = self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=UNDELIVERED_NOTICE,
                metadata=APOLOGY_METADATA,
            )
            self.notice_ts = str(notice["ts"])
        except SlackApiError as error:
            log.warning("could not leave the undelivered notice: %s", _error_code(error))
        return self.notice_ts

    def withdraw(self) -> None:
        """The question was deleted: take back whatever of the reply is shown (and the
        status). Never raises; a message that cannot be deleted is logged."""
        self._status.settle()
        self._cut = True
        if self._stream_ts is not None and self._streaming:
            try:
                self._client.chat_stopStream(channel=self._channel, ts=self._stream_ts)
            except SlackApiError:
                log.debug("the withdrawn stream could not be stopped", exc_info=True)
        for ts in self.message_ts:
            try:
                self._calls.call(
                    "chat.delete",
                    lambda ts=ts: self._client.chat_delete(channel=self._channel, ts=ts),
                )
            except SlackApiError as error:
                log.warning("could not delete reply %s: %s", ts, _error_code(error))
        if not self.message_ts:
            try:
                self._client.assistant_threads_setStatus(
                    channel_id=self._channel, thread_ts=self._thread_ts, status=""
                )
            except SlackApiError:
                log.debug("could not clear the status of a withdrawn reply", exc_info=True)

    # --- status ---------------------------------------------------------------------------------
    def _set_status(self) -> None:
        try:
            self._client.assistant_threads_setStatus(
                channel_id=self._channel,
                thread_ts=self._thread_ts,
                status=self._options.status,
                loading_messages=list(self._options.loading_messages) or None,
            )
        except SlackApiError as error:
            log.warning("could not set the thread status: %s", _error_code(error))
        except Exception:
            log.exception("could not set the thread status")

    # --- streaming ------------------------------------------------------------------------------
    def _stream_out(self) -> None:
        """Send the stream what is new. A reply still shorter than the buffer stays here: if
        it ends that short, `finish` posts it whole and no stream is opened at all."""
        if len(self._text) - self._sent < self._options.buffer_chars:
            return  # too little new text to send (rendering only ever adds characters)
        rendered = slack_links_to_markdown(self._text[: settled_length(self._text)])
        new = rendered[self._sent :]
        if len(new) < self._options.buffer_chars:
            return
        self._status.settle()
        try:
            for start in range(0, len(new), MARKDOWN_LIMIT):
                self._stream_piece(new[start : start + MARKDOWN_LIMIT])
        except SlackApiError as error:
            if _error_code(error) == "ratelimited":
                raise
            self._leave_streaming(error)
            self._post_progress(force=True)

    def _stream_piece(self, piece: str) -> None:
        if self._stream_ts is None:
            response = self._calls.call(
                "chat.startStream",
                lambda: self._client.chat_startStream(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    recipient_team_id=self._team_id,
                    recipient_user_id=self._user_id,
                    markdown_text=piece,
                ),
            )
            self._stream_ts = str(response["ts"])
        else:
            self._calls.call(
                "chat.appendStream",
                lambda: self._client.chat_appendStream(
                    channel=self._channel, ts=self._stream_ts or "", markdown_text=piece
                ),
            )
        self._sent += len(piece)

    def _stop_stream(self, tail: list[dict[str, Any]]) -> str:
        rendered = slack_links_to_markdown(self._text) + (CUT_NOTE if self._cut else "")
        rest = rendered[self._sent :]
        while len(rest) > MARKDOWN_LIMIT:
            self._stream_piece(rest[:MARKDOWN_LIMIT])
            rest = rest[MARKDOWN_LIMIT:]
        ts = self._stream_ts or ""
        self._calls.call(
            "chat.stopStream",
            lambda: self._client.chat_stopStream(
                channel=self._channel, ts=ts, markdown_text=rest or None, blocks=tail
            ),
        )
        self._sent = len(rendered)
        return ts

    def _leave_streaming(self, error: SlackApiError) -> None:
        """Carry on with post-then-update; a started stream message is stopped and reused."""
        code = _error_code(error)
        started = self._stream_ts
        if code in STREAMING_MISSING and started is None:
            self._switch.disable(code)
        else:
            log.warning("chat streaming failed (%s): posting and updating instead", code)
        if started is not None:
            self._pages, self._shown = [started], [None]  # its text is unknown: rewrite it
            try:
                self._client.chat_stopStream(channel=self._channel, ts=started)
            except SlackApiError:
                log.debug("the broken stream could not be stopped", exc_info=True)
        self._streaming = False
        self._stream_ts = None

    # --- post-then-update -----------------------------------------------------------------------
    def _page_texts(self) -> list[str]:
        return reply_pages(self._text + (CUT_NOTE if self._cut else ""))

    def _post_progress(self, *, force: bool) -> None:
        if not self._text.strip():
            return
        if not self._pages and not force and len(self._text) < self._options.buffer_chars:
            return
        now = self._clock()
        if self._pages and not force and now - self._last_update < self._options.update_interval_s:
            return  # the next update (or the next page) is due later
        pages = self._page_texts()
        self._status.settle()
        self._show(pages, [])
        self._last_update = now

    def _show_pages(self, tail: list[dict[str, Any]]) -> str:
        self._status.settle()
        pages = self._page_texts()
        self._show(pages, tail)
        for ts in self._pages[len(pages) :]:  # adopted messages the whole reply does not need
            try:
                self._client.chat_delete(channel=self._channel, ts=ts)
            except SlackApiError as error:
                log.warning("could not delete the spare reply message %s: %s", ts, error)
        del self._pages[len(pages) :], self._shown[len(pages) :]
        return self._pages[-1]

    def _show(self, pages: list[str], tail: list[dict[str, Any]]) -> None:
        """Make Slack show `pages`: earlier pages updated to their final text, new pages
        posted, `tail` (notes and controls) under the last."""
        for index, page in enumerate(pages):
            last = index == len(pages) - 1
            blocks = page_blocks(page) + (tail if last else [])
            if index < len(self._pages):
                if self._shown[index] != page or (last and tail):
                    self._update(index, page, blocks)
            else:
                response = self._calls.call(
                    "chat.postMessage",
                    lambda page=page, blocks=blocks: self._client.chat_postMessage(
                        channel=self._channel,
                        thread_ts=self._thread_ts,
                        text=fallback_text(page),
                        blocks=blocks,
                    ),
                )
                self._pages.append(str(response["ts"]))
                self._shown.append(page)

    def _update(self, index: int, page: str, blocks: list[dict[str, Any]]) -> None:
        ts = self._pages[index]
        self._calls.call(
            "chat.update",
            lambda: self._client.chat_update(
                channel=self._channel,
                ts=ts,
                text=fallback_text(page),
                blocks=blocks or page_blocks(page),
            ),
        )
        self._shown[index] = page
