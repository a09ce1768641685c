"""keyed audit chain: the boundary below which entries keep their plain SHA-256 digests

Revision ID: 0003
Revises: 0002 (the disclosure-state revision, written beside it, follows as 0004 so that
the migrations have one head)
Create Date: 2026-12-03 19:00:00

Entries written before this revision were chained with plain SHA-256 (anyone could
recompute them). They are left as they are, not re-keyed: re-keying would turn an
undetected earlier edit into a valid keyed entry. ``audit_head.keyed_from`` records the
last of them; every entry after it is HMAC-SHA256 under the audit key. The first anchor
written afterwards records the boundary outside the database (catalog_api/audit.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyed_from", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE audit_head SET keyed_from = seq")


def downgrade() -> None:
    """Revert this revision (entries written since are then no longer verifiable)."""
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("keyed_from")
