"""the differencing check's index: the smallest stable numbers of every remembered number
(``disclosure_marks``, indexed by user and number), so that a new answer finds the
remembered numbers it could be differenced against by index lookups instead of reading
every remembered number of its size (catalog_api.discovery.history, ``near``); the
marks of the answers remembered before are computed from their stored bitmaps

Revision ID: 0005
Revises: 0004 (the disclosure state)
Create Date: 2026-12-04 04:00:00
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op
from pyroaring import BitMap

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: as catalog_api.discovery.history.MARKS when this revision was written
MARKS = 8
BATCH = 1_000


def upgrade() -> None:
    """Apply this revision."""
    marks = op.create_table(
        "disclosure_marks",
        sa.Column(
            "answer_id",
            sa.Integer(),
            sa.ForeignKey("disclosure_answers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rank", sa.SmallInteger(), primary_key=True, comment="0: the smallest number."),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False, comment="A stable patient number."),
    )
    op.create_index("ix_disclosure_marks_user_number", "disclosure_marks", ["username", "number"])
    answers = sa.table(
        "disclosure_answers",
        sa.column("id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("patients", sa.LargeBinary()),
    )
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(answers.c.id, answers.c.username, answers.c.patients)
            .where(answers.c.id > last)
            .order_by(answers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = [
            {"answer_id": i, "rank": rank, "username": user, "number": number}
            for i, user, packed in rows
            for rank, number in enumerate(BitMap.deserialize(zlib.decompress(packed))[:MARKS])
        ]
        if values:
            conn.execute(marks.insert(), values)
        last = rows[-1][0]


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_disclosure_marks_user_number", "disclosure_marks")
    op.drop_table("disclosure_marks")
