"""Files attached to a question: plain text is read into the prompt, the rest is named.

The model reads text only. A plain-text file (a log, a config, a CSV, code) is downloaded
from its `url_private` with the bot token (scope `files:read`, Slack's "Working with files"),
cut to `max_chars` and put under the question, fenced, so the model sees what was sent. Any
other file (an image, a PDF, a file too large or that would not download) is named in the
prompt as not read, and in a note under the answer, so nobody thinks the bot looked at it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

log = logging.getLogger("tuneloop.bot.files")

#: Slack filetypes that are text (Slack's file object reference lists the types).
TEXT_FILETYPES = frozenset(
    {"text", "markdown", "csv", "tsv", "json", "yaml", "xml", "html", "log", "sql", "diff"}
    | {"python", "javascript", "typescript", "java", "go", "ruby", "php", "shell", "bash"}
    | {"c", "cpp", "csharp", "kotlin", "rust", "swift", "dockerfile", "ini", "toml", "post"}
)
TEXT_MIMETYPES = ("text/", "application/json", "application/xml", "application/x-yaml")
CUT_MARK = "\n… (the rest of the file was left out)"


@dataclass(frozen=True)
class Attachments:
    """What the bot made of a message's files: text to add to the question, and the names
    of the files it could not read (with why)."""

    text: str = ""
    unread: tuple[str, ...] = ()
    read: tuple[str, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """The note under the answer (none when every file was read)."""
        if not self.unread:
            return ()
        return (f"I couldn't read {_listing(self.unread)}, so I answered from your text only.",)


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def is_text_file(file: Mapping[str, Any]) -> bool:
    mimetype = str(file.get("mimetype") or "")
    return str(file.get("filetype") or "") in TEXT_FILETYPES or mimetype.startswith(TEXT_MIMETYPES)


def _kind(file: Mapping[str, Any]) -> str:
    mimetype = str(file.get("mimetype") or "")
    if mimetype.startswith("image/"):
        return "an image"
    if mimetype == "application/pdf":
        return "a PDF"
    return "not plain text"


class FileReader:
    """Downloads plain-text files with the bot's token, at most `max_chars` each."""

    def __init__(self, *, max_chars: int = 20_000, timeout_s: float = 10.0) -> None:
        self._max_chars = max_chars
        self._timeout_s = timeout_s

    def read(self, token: str | None, files: Sequence[Mapping[str, Any]]) -> Attachments:
        parts: list[str] = []
        read: list[str] = []
        unread: list[str] = []
        for file in files:
            name = str(file.get("name") or file.get("title") or "a file")
            if not is_text_file(file):
                unread.append(f"{name} ({_kind(file)})")
                continue
            text = self._download(token, file)
            if text is None:
                unread.append(f"{name} (it would not download)")
                continue
            if len(text) > self._max_chars:
                text = text[: self._max_chars] + CUT_MARK
            read.append(name)
            parts.append(f"File {name}:\n```\n{text.rstrip()}\n```")
        for name in unread:
            parts.append(f"(Attached, not readable by the assistant: {name}.)")
        return Attachments("\n\n".join(parts), tuple(unread), tuple(read))

    def _download(self, token: str | None, file: Mapping[str, Any]) -> str | None:
        url = file.get("url_private_download") or file.get("url_private")
        if not url or not token:
            return None
        limit = self._max_chars * 4 + 4  # enough bytes for max_chars of UTF-8
        try:
            with httpx2.stream(
                "GET",
                str(url),
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout_s,
                follow_redirects=True,
            ) as response:
                if response.status_code != 200:
                    log.warning("file %s: HTTP %s", file.get("id"), response.status_code)
                    return None
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) >= limit:
                        break
        except httpx2.HTTPError as error:
            log.warning("file %s would not download: %s", file.get("id"), error)
            return None
        return data[:limit].decode("utf-8", errors="replace")


def unreadable_reply(attachments: Attachments) -> str:
    """The short reply to a message that holds only files the bot cannot read."""
    return (
        f"I can only read text, so I couldn't read {_listing(attachments.unread)}. "
        "Could you type your question, or paste the text (an error message, say)?"
    )
