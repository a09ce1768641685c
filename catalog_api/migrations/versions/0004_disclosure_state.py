"""disclosure state shared by every replica: query budget, remembered answers, stable
patient numbers (catalog_api.discovery.history)

Revision ID: 0004
Revises: 0003 (the keyed audit chain)
Create Date: 2026-12-03 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "disclosure_queries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("at", sa.Float(), nullable=False, comment="Unix time of the query."),
    )
    op.create_index("ix_disclosure_queries_user_at", "disclosure_queries", ["username", "at"])
    op.create_table(
        "disclosure_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("at", sa.Float(), nullable=False, comment="Unix time of the answer."),
        sa.Column("digest", sa.String(64), nullable=False, comment="Query digest (SHA-256)."),
        sa.Column("definition", sa.String(64), nullable=False, comment="Definition digest."),
        sa.Column("lake_version", sa.String(256), nullable=False),
        sa.Column("name", sa.String(32), nullable=False, comment="count, excluded or covered."),
        sa.Column("size", sa.Integer(), nullable=False, comment="Patients counted."),
        sa.Column("patients", sa.LargeBinary(), nullable=False, comment="zlib(Roaring bitmap)."),
    )
    op.create_index("ix_disclosure_answers_user_size", "disclosure_answers", ["username", "size"])
    op.create_index("ix_disclosure_answers_at", "disclosure_answers", ["at"])
    op.create_table(
        "disclosure_patients",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(32), nullable=False, unique=True, comment="Keyed hash."),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("disclosure_patients")
    op.drop_index("ix_disclosure_answers_at", "disclosure_answers")
    op.drop_index("ix_disclosure_answers_user_size", "disclosure_answers")
    op.drop_table("disclosure_answers")
    op.drop_index("ix_disclosure_queries_user_at", "disclosure_queries")
    op.drop_table("disclosure_queries")
