"""Durable state on disk: one JSON document per object, plus file blobs.

Layout under the data folder::

    files/<file_id>.json     file metadata      blobs/<file_id>      file bytes
    jobs/<job_id>.json       job, its events and checkpoints
    models/<job_id>.json     a fine-tuned model (keyed by the job that made it; model ids
                             contain colons, which not every filesystem accepts)
    examples/<job_id>.json   the examples a fine-tuned model answers from

Every write goes to a temporary file that replaces the old one with `os.replace`, so a reader
or a crash never sees half a document. One stand-in process per data folder: the lock makes it
safe for threads, not for two processes writing the same folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

#: What may appear in a record key: ids we mint ourselves, never a path from a request.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

COLLECTIONS = ("files", "jobs", "models", "examples")


class Storage:
    """JSON records and blobs under one folder, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.lock = threading.RLock()
        for name in (*COLLECTIONS, "blobs"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    # --- records ----------------------------------------------------------------------------
    def load_all(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every record of a collection, by key (leftover temporary files are ignored)."""
        folder = self._folder(collection)
        records: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.json")):
            with path.open("r", encoding="utf-8") as handle:
                records[path.stem] = json.load(handle)
        return records

    def load(self, collection: str, key: str) -> Any | None:
        path = self._folder(collection) / f"{_checked(key)}.json"
        if not path.exists():
            return None
        with path.open("r", encoding="utf-8") as handle:
            return json.load(handle)

    def save(self, collection: str, key: str, record: Any) -> None:
        data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._atomic_write(self._folder(collection) / f"{_checked(key)}.json", data)

    def delete(self, collection: str, key: str) -> None:
        (self._folder(collection) / f"{_checked(key)}.json").unlink(missing_ok=True)

    # --- blobs ------------------------------------------------------------------------------
    def write_blob(self, key: str, data: bytes) -> None:
        self._atomic_write(self.root / "blobs" / _checked(key), data)

    def read_blob(self, key: str) -> bytes:
        return (self.root / "blobs" / _checked(key)).read_bytes()

    def delete_blob(self, key: str) -> None:
        (self.root / "blobs" / _checked(key)).unlink(missing_ok=True)

    # --- helpers ----------------------------------------------------------------------------
    def _folder(self, collection: str) -> Path:
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown collection {collection!r}")
        return self.root / collection

    def _atomic_write(self, path: Path, data: bytes) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def _checked(key: str) -> str:
    """Refuse keys that could leave the folder; all keys are ids the stand-in minted."""
    if not _SAFE_KEY.match(key) or key in {".", ".."}:
        raise ValueError(f"unsafe storage key {key!r}")
    return key
