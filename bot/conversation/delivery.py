"""Delivering a reply into a Slack thread: status, streaming, and post-then-update.

The thread shows "is thinking..." (assistant.threads.setStatus) while the model works. The
reply streams with Slack's chat streaming (`WebClient.chat_stream`: chat.startStream,
appendStream, stopStream). Where streaming is not available (Slack answers `unknown_method`,
or it is switched off), the reply is posted once enough text has arrived and then updated,
at most once per `update_interval_s`, as section blocks within Slack's limits. Either way the
feedback controls come last, in chat.stopStream's `blocks` or a final chat.update.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.chat_stream import ChatStream

from bot.blocks.ids import APOLOGY_EVENT
from bot.blocks.reply import fallback_text, reply_controls, text_blocks
from bot.blocks.text import split_text
from bot.conversation.status import DeferredStatus, DelayedCalls

log = logging.getLogger("tuneloop.bot.delivery")

#: Errors that mean this workspace has no chat streaming (not a passing failure).
STREAMING_MISSING = frozenset(
    {"unknown_method", "not_allowed_token_type", "method_deprecated", "feature_not_enabled"}
)
#: chat.appendStream takes at most 12,000 characters of markdown per call.
APPEND_LIMIT = 4000
#: A Slack message holds about 40,000 characters; a longer reply is cut with a note.
MAX_REPLY_CHARS = 36_000
CUT_NOTE = "\n\n_(This answer was too long for one Slack message and was cut here.)_"
APOLOGY_METADATA = {"event_type": APOLOGY_EVENT, "event_payload": {"kind": "apology"}}
#: Status calls run here, beside the model call, once a reply has kept people waiting for
#: `DeliveryOptions.status_delay_s`. Shared by every reply in the process: the calls are short
#: and wait on nothing, so a few threads serve any number of replies.
_STATUS_CALLS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tuneloop-status")
_STATUS_TIMERS = DelayedCalls(_STATUS_CALLS)


def _error_code(error: SlackApiError) -> str:
    return str(error.response.get("error", "")) if error.response is not None else ""


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
    #: Characters gathered before the first Slack call (the SDK's stream buffer, and the
    #: post-then-update fallback's first post).
    buffer_chars: int = 256
    update_interval_s: float = 1.0


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
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._user_id = user_id
        self._team_id = team_id
        self._switch = streaming
        self._options = options
        self._clock = clock
        self._streaming = streaming.enabled
        self._stream: ChatStream | None = None
        self._text = ""
        self._cut = False
        self._ts: str | None = None
        self._shown = 0
        self._last_update = 0.0
        self._status = DeferredStatus(
            self._set_status, delay_s=options.status_delay_s, timers=_STATUS_TIMERS
        )
        self._streamed = 0

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
        if self._streaming:
            self._stream_out()
        else:
            self._post_progress(force=False)

    def settle(self) -> str | None:
        """The ts of the reply if part of it is shown already; None for a reply short enough
        to have stayed in the buffer (it is posted whole, controls included, by `finish`)."""
        if self._streaming and self._stream is not None and self._stream.ts is not None:
            self._ts = self._stream.ts
        return self._ts

    def finish(self, exchange_id: int) -> str | None:
        self._status.settle()
        controls = reply_controls(exchange_id)
        if self._streaming and self._stream is not None and self._stream.ts is not None:
            try:
                self._stream.stop(markdown_text=CUT_NOTE if self._cut else None, blocks=controls)
                return self._ts
            except SlackApiError as error:
                self._leave_streaming(error)
        blocks = text_blocks(self._full_text) + controls
        if self._ts is None:
            response = self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=fallback_text(self._full_text),
                blocks=blocks,
            )
            self._ts = str(response["ts"])
        else:
            self._client.chat_update(
                channel=self._channel,
                ts=self._ts,
                text=fallback_text(self._full_text),
                blocks=blocks,
            )
        return self._ts

    def apologise(self, text: str) -> None:
        self._status.settle()
        if self._streaming and self._stream is not None and self._stream.ts is not None:
            try:
                self._stream.stop(markdown_text=f"\n\n{text}", metadata=APOLOGY_METADATA)
                return
            except SlackApiError as error:
                self._leave_streaming(error)
        if self._ts is not None:
            shown = f"{self._text}\n\n{text}"
            self._client.chat_update(
                channel=self._channel,
                ts=self._ts,
                text=fallback_text(shown),
                blocks=text_blocks(shown, reserve=0),
            )
            return
        self._client.chat_postMessage(
            channel=self._channel, thread_ts=self._thread_ts, text=text, metadata=APOLOGY_METADATA
        )

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
    def _open_stream(self) -> ChatStream:
        if self._stream is None:
            self._stream = self._client.chat_stream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                recipient_team_id=self._team_id,
                recipient_user_id=self._user_id,
                buffer_size=self._options.buffer_chars,
            )
        return self._stream

    def _stream_out(self) -> None:
        """Hand what is new to the stream. A reply still shorter than the buffer stays here:
        if it ends that short, `finish` posts it whole and no stream is opened at all."""
        if self._stream is None and len(self._text) < self._options.buffer_chars:
            return
        new, self._streamed = self._text[self._streamed :], len(self._text)
        self._status.settle()
        try:
            stream = self._open_stream()
            for part in split_text(new, APPEND_LIMIT) if len(new) > APPEND_LIMIT else [new]:
                stream.append(markdown_text=part)
        except SlackApiError as error:
            self._leave_streaming(error)
            self._post_progress(force=True)

    def _leave_streaming(self, error: SlackApiError) -> None:
        """Carry on with post-then-update; a started stream message is stopped and reused."""
        code = _error_code(error)
        started = self._stream.ts if self._stream is not None else None
        if code in STREAMING_MISSING and started is None:
            self._switch.disable(code)
        else:
            log.warning("chat streaming failed (%s): posting and updating instead", code)
        if started is not None:
            self._ts = started
            self._shown = -1  # its text is unknown now: the next update rewrites it
            try:
                self._client.chat_stopStream(channel=self._channel, ts=started)
            except SlackApiError:
                log.debug("the broken stream could not be stopped", exc_info=True)
        self._streaming = False
        self._stream = None

    # --- post-then-update -----------------------------------------------------------------------
    @property
    def _full_text(self) -> str:
        return self._text + CUT_NOTE if self._cut else self._text

    def _post_progress(self, *, force: bool) -> None:
        if not self._text.strip():
            return
        self._status.settle()
        now = self._clock()
        if self._ts is None:
            if not force and len(self._text) < self._options.buffer_chars:
                return
            response = self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=fallback_text(self._full_text),
                blocks=text_blocks(self._full_text),
            )
            self._ts = str(response["ts"])
        elif len(self._text) != self._shown and (
            force or now - self._last_update >= self._options.update_interval_s
        ):
            self._client.chat_update(
                channel=self._channel,
                ts=self._ts,
                text=fallback_text(self._full_text),
                blocks=text_blocks(self._full_text),
            )
        else:
            return
        self._shown = len(self._text)
        self._last_update = now
