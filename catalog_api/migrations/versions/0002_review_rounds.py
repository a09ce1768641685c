"""review rounds per centre part; exported patients per export

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:32:09.795032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("centre_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patients", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_column("patients")
    with op.batch_alter_table("centre_parts", schema=None) as batch_op:
        batch_op.drop_column("round")
