"""Files, uploaded as Together's SDK uploads them: three calls.

1. `POST /files {purpose, file_name, file_type}` (JSON or form) answers 302 with `Location`, a
   presigned upload URL, and `X-Together-File-Id`. The file now exists, unprocessed and empty.
2. `PUT <Location>` with the bytes (no API key: the URL's token is the permission).
3. `POST /files/{id}/preprocess` checks that bytes arrived and answers the file, `Processed`.

A file whose upload was cut short is listed unprocessed, as an interrupted upload leaves it.
`FileResponse` spells two fields in Together's capitals (`Processed`, `FileType`) and adds
`LineCount`, as Together's SDK reads them.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from tuneloop.local_openai.clock import Clock
from tuneloop.local_openai.errors import ApiError, invalid_request, not_found
from tuneloop.local_openai.storage import Storage

PURPOSES = frozenset(
    {
        "fine-tune",
        "eval",
        "eval-sample",
        "eval-output",
        "eval-summary",
        "batch-generated",
        "batch-api",
    }
)
FILE_TYPES = frozenset({"jsonl", "csv", "parquet"})
#: Where presigned uploads go (outside `/v1`, as an object store's URL is).
UPLOAD_PREFIX = "/upload/"


class FileService:
    """File records and their bytes on disk."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._records: dict[str, dict[str, Any]] = storage.load_all("files")

    def begin_upload(self, fields: dict[str, str]) -> tuple[str, str]:
        """Step 1: a new, empty file; its id and the token its presigned URL carries."""
        purpose = fields.get("purpose")
        name = fields.get("file_name")
        file_type = fields.get("file_type") or "jsonl"
        if not name:
            raise invalid_request("file_name is required", param="file_name")
        if purpose not in PURPOSES:
            raise invalid_request(
                f"Invalid purpose {purpose!r}; expected one of {', '.join(sorted(PURPOSES))}",
                param="purpose",
            )
        if file_type not in FILE_TYPES:
            raise invalid_request(f"Invalid file_type {file_type!r}", param="file_type")
        file_id = f"file-{uuid.uuid4()}"
        token = secrets.token_urlsafe(16)
        record = {
            "file": {
                "id": file_id,
                "object": "file",
                "created_at": int(self._clock.now()),
                "filename": name,
                "bytes": 0,
                "purpose": purpose,
                "Processed": False,
                "FileType": file_type,
                "LineCount": 0,
            },
            "token": token,
            "received": False,
        }
        self._save(record)
        return file_id, token

    def receive(self, file_id: str, token: str, content: bytes) -> None:
        """Step 2: the bytes, sent to the presigned URL."""
        record = self._records.get(file_id)
        if record is None or not secrets.compare_digest(record["token"], token):
            raise ApiError(403, "The request signature we calculated does not match.")
        self._storage.write_blob(file_id, content)
        record["received"] = True
        record["file"]["bytes"] = len(content)
        self._save(record)

    def preprocess(self, file_id: str) -> dict[str, Any]:
        """Step 3: the uploaded file, processed."""
        record = self._record(file_id)
        if not record["received"]:
            raise invalid_request(
                f"File {file_id} has no content: upload it to the URL in the Location header first",
                param="id",
            )
        content = self._storage.read_blob(file_id)
        record["file"]["Processed"] = True
        record["file"]["LineCount"] = sum(1 for line in content.splitlines() if line.strip())
        self._save(record)
        return dict(record["file"])

    def list(self) -> dict[str, Any]:
        rows = sorted(self._records.values(), key=lambda r: r["file"]["created_at"])
        return {"object": "list", "data": [dict(r["file"]) for r in rows]}

    def retrieve(self, file_id: str) -> dict[str, Any]:
        return dict(self._record(file_id)["file"])

    def delete(self, file_id: str) -> dict[str, Any]:
        self._record(file_id)
        self._storage.delete("files", file_id)
        self._storage.delete_blob(file_id)
        del self._records[file_id]
        return {"id": file_id, "deleted": True}

    def content(self, file_id: str) -> bytes:
        record = self._record(file_id)
        return self._storage.read_blob(file_id) if record["received"] else b""

    def processed(self, file_id: str, param: str) -> dict[str, Any]:
        """A file a job may train on, or the 400 Together answers for it."""
        record = self._records.get(file_id)
        if record is None:
            raise invalid_request(f"File {file_id} not found", param=param)
        if not record["file"]["Processed"]:
            raise invalid_request(f"File {file_id} has not been processed yet", param=param)
        if record["file"]["purpose"] != "fine-tune":
            raise invalid_request(
                f"File {file_id} was uploaded with purpose {record['file']['purpose']!r}, not "
                "'fine-tune'",
                param=param,
            )
        return dict(record["file"])

    def _record(self, file_id: str) -> dict[str, Any]:
        record = self._records.get(file_id)
        if record is None:
            raise not_found(f"File {file_id} not found", param="id")
        return record

    def _save(self, record: dict[str, Any]) -> None:
        self._records[record["file"]["id"]] = record
        self._storage.save("files", record["file"]["id"], record)
