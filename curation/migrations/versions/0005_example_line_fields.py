"""examples keep every field of OpenAI's training format (`line_fields`), and their content hash
keeps whitespace inside texts (a correction that only fixes indentation is a new answer)

Revision ID: 0005
Revises: 0004 (to become 0004 when issue 17's migration lands before it)
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _exact(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()


def _sha256(value: Any) -> str:
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hash(messages: list[dict[str, Any]], target: str, normalise: Any) -> str:
    # Frozen copies of curation.fingerprints.content_hash before (folded) and after (exact) this
    # revision, for the rows that exist when it runs: plain {role, content} messages, no
    # line_fields (the importer kept nothing else before it).
    identity = [
        [str(m.get("role", "")).strip().lower(), normalise(str(m.get("content") or ""))]
        for m in messages
    ]
    return _sha256(["example", identity, normalise(target)])


def _rehash(normalise: Any) -> None:
    examples = sa.table(
        "examples",
        sa.column("id", sa.Integer),
        sa.column("messages", sa.JSON),
        sa.column("target", sa.Text),
        sa.column("content_hash", sa.String),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(examples.c.id, examples.c.messages, examples.c.target)
            .where(examples.c.id > last)
            .order_by(examples.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            examples.update()
            .where(examples.c.id == sa.bindparam("row_id"))
            .values(content_hash=sa.bindparam("digest")),
            [
                {"row_id": row.id, "digest": _hash(row.messages, row.target, normalise)}
                for row in rows
            ],
        )
        last = rows[-1].id


def upgrade() -> None:
    # A nullable column at the end: SQLite adds it in place, no batch rebuild.
    op.add_column(
        "examples",
        sa.Column("line_fields", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )
    # The new identity is finer than the old one (NFC instead of NFKC, whitespace kept), so no
    # two stored examples can end up with one hash.
    _rehash(_exact)


def downgrade() -> None:
    # Examples that differ only in whitespace would share a folded hash: keep the oldest one's.
    _rehash_down()
    # A plain DROP COLUMN (SQLite 3.35+), not a batch rebuild: rebuilding `examples` on SQLite
    # would drop the triggers that keep its counts (migration 0004).
    op.drop_column("examples", "line_fields")


def _rehash_down() -> None:
    examples = sa.table(
        "examples",
        sa.column("id", sa.Integer),
        sa.column("messages", sa.JSON),
        sa.column("target", sa.Text),
    )
    bind = op.get_bind()
    seen: set[str] = set()
    duplicates: list[int] = []
    for row in bind.execute(
        sa.select(examples.c.id, examples.c.messages, examples.c.target).order_by(examples.c.id)
    ):
        digest = _hash(row.messages, row.target, _folded)
        if digest in seen:
            duplicates.append(row.id)
        seen.add(digest)
    if duplicates:
        raise RuntimeError(
            f"cannot downgrade: examples {duplicates[:20]} differ from older ones only in "
            "whitespace, which the older schema cannot tell apart; retire and delete them first"
        )
    _rehash(_folded)
