"""examples: the content hash keeps the first line's indentation of a text of several lines

Before, every text was trimmed at both ends before hashing, so an answer whose only fix was the
indentation of its first line (`    return x` under a `def`) hashed like the broken one and was
thrown away as a duplicate. Stored texts kept their whitespace; only the hash folded it. This
revision rehashes every example with the code's `content_hash`, so re-importing a stored line
is still a no-op. The new identity is finer than the old one: no two stored examples can end up
with one hash.

Downgrading leaves the hashes as they are: the older code then takes the few examples whose
first line is indented for different from a re-import of the same line (it may add one again;
nothing stored is lost).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    # The live function, not a frozen copy: the hash this revision stores is the code's, and a
    # later revision that changes the identity rehashes again the same way.
    from curation.fingerprints import content_hash

    examples = sa.table(
        "examples",
        sa.column("id", sa.Integer),
        sa.column("messages", sa.JSON),
        sa.column("target", sa.Text),
        sa.column("line_fields", sa.JSON),
        sa.column("content_hash", sa.String),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                examples.c.id,
                examples.c.messages,
                examples.c.target,
                examples.c.line_fields,
                examples.c.content_hash,
            )
            .where(examples.c.id > last)
            .order_by(examples.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = [
            {"row_id": row.id, "digest": digest}
            for row in rows
            if (digest := content_hash(row.messages, row.target, row.line_fields))
            != row.content_hash
        ]
        if changed:
            bind.execute(
                examples.update()
                .where(examples.c.id == sa.bindparam("row_id"))
                .values(content_hash=sa.bindparam("digest")),
                changed,
            )
        last = rows[-1].id


def downgrade() -> None:
    pass  # see the module docstring: the finer hashes stay
