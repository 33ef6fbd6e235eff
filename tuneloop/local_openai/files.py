"""Files: upload, retrieve, content, delete and list, with OpenAI's purposes and statuses.

A file uploaded for fine-tuning reads `uploaded` until one clock stage has passed and
`processed` after it (what `files.wait_for_processing` waits for); files the stand-in writes
itself (training results) are `processed` at once.
"""

from __future__ import annotations

from typing import Any

from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import ApiError, invalid_request, not_found
from tuneloop.local_openai.ids import new_id
from tuneloop.local_openai.pagination import cursor_page, parse_limit
from tuneloop.local_openai.storage import Storage

#: Purposes a client may upload with: the spec's upload purposes that a file object can carry.
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")
RESULTS_PURPOSE = "fine-tune-results"

_EXPIRY_MIN_S = 3600
_EXPIRY_MAX_S = 2_592_000


class FileService:
    """Files kept on disk; metadata in memory for fast listing."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._records: dict[str, dict[str, Any]] = storage.load_all("files")
        self._next_seq = 1 + max((r["_seq"] for r in self._records.values()), default=0)

    # --- writing ----------------------------------------------------------------------------
    def upload(
        self,
        *,
        filename: str,
        content: bytes,
        purpose: str,
        expires_after: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A client's upload (`POST /files`)."""
        if purpose not in UPLOAD_PURPOSES:
            allowed = ", ".join(f"'{p}'" for p in UPLOAD_PURPOSES)
            raise invalid_request(
                f"Invalid value for 'purpose': {purpose!r}. Supported values are: {allowed}.",
                param="purpose",
                code="invalid_value",
            )
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise invalid_request(
                "Invalid file format for Fine-Tuning API. Must be .jsonl", param="file"
            )
        expires_in = _expiry_seconds(expires_after)
        return self._store(filename, content, purpose, expires_in=expires_in, processed=False)

    def write_result(self, filename: str, content: bytes) -> dict[str, Any]:
        """A file the stand-in produces (a job's `fine-tune-results` CSV)."""
        return self._store(filename, content, RESULTS_PURPOSE, expires_in=None, processed=True)

    def delete(self, file_id: str) -> dict[str, Any]:
        record = self._visible(file_id)
        with self._storage.lock:
            self._storage.delete("files", record["id"])
            self._storage.delete_blob(record["id"])
            self._records.pop(record["id"], None)
        return {"id": record["id"], "object": "file", "deleted": True}

    # --- reading ----------------------------------------------------------------------------
    def retrieve(self, file_id: str) -> dict[str, Any]:
        return self._public(self._visible(file_id))

    def content(self, file_id: str) -> bytes:
        return self._storage.read_blob(self._visible(file_id)["id"])

    def is_processed(self, file_id: str) -> bool:
        return self.retrieve(file_id)["status"] == "processed"

    def list(
        self,
        *,
        purpose: str | None,
        order: str | None,
        limit: str | None,
        after: str | None,
    ) -> dict[str, Any]:
        if order not in (None, "", "asc", "desc"):
            raise invalid_request(
                f"Invalid value for 'order': {order!r}. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        size = parse_limit(limit, default=10_000, maximum=10_000)
        now = self._clock.now()
        rows = [r for r in self._records.values() if not _expired(r, now)]
        if purpose:
            rows = [r for r in rows if r["purpose"] == purpose]
        rows.sort(key=lambda r: r["_seq"], reverse=order != "asc")
        page, has_more = cursor_page([self._public(r) for r in rows], after=after, limit=size)
        return {
            "object": "list",
            "data": page,
            # The spec requires string ids even for an empty page.
            "first_id": page[0]["id"] if page else "",
            "last_id": page[-1]["id"] if page else "",
            "has_more": has_more,
        }

    # --- helpers ----------------------------------------------------------------------------
    def _store(
        self,
        filename: str,
        content: bytes,
        purpose: str,
        *,
        expires_in: int | None,
        processed: bool,
    ) -> dict[str, Any]:
        now = self._clock.now()
        file_id = new_id("file-", 22)
        record: dict[str, Any] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(now),
            "filename": filename,
            "purpose": purpose,
            "_seq": 0,
            "_created": now,
            "_processed_at": now if processed else now + self._clock.stage_seconds,
        }
        if expires_in is not None:
            record["expires_at"] = int(now) + expires_in
        with self._storage.lock:
            record["_seq"] = self._next_seq
            self._next_seq += 1
            self._storage.write_blob(file_id, content)
            self._storage.save("files", file_id, record)
            self._records[file_id] = record
        return self._public(record)

    def _visible(self, file_id: str) -> dict[str, Any]:
        record = self._records.get(file_id)
        if record is None or _expired(record, self._clock.now()):
            raise _no_such_file(file_id)
        return record

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in record.items() if not k.startswith("_")}
        processed = self._clock.now() >= record["_processed_at"]
        public["status"] = "processed" if processed else "uploaded"
        return public


def _no_such_file(file_id: str) -> ApiError:
    return not_found(f"No such File object: {file_id}", param="id")


def _expired(record: dict[str, Any], now: float) -> bool:
    expires_at = record.get("expires_at")
    return expires_at is not None and now >= expires_at


def _expiry_seconds(expires_after: dict[str, Any] | None) -> int | None:
    if not expires_after:
        return None
    anchor = expires_after.get("anchor")
    seconds = expires_after.get("seconds")
    if anchor != "created_at":
        raise invalid_request(
            "Invalid value for 'expires_after.anchor': expected 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    try:
        value = int(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid_request(
            "Invalid 'expires_after.seconds': expected an integer.",
            param="expires_after.seconds",
            code="invalid_type",
        ) from None
    if not _EXPIRY_MIN_S <= value <= _EXPIRY_MAX_S:
        raise invalid_request(
            f"Invalid 'expires_after.seconds': expected a value between {_EXPIRY_MIN_S} and "
            f"{_EXPIRY_MAX_S}, but got {value} instead.",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return value
