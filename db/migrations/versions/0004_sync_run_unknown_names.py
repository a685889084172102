"""Add sync_runs.unknown_names: what the plugin's tables did not know in a sync.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

JSON text (a sorted list of short names, at most 50), NULL when there were none; rows written
before this revision read as none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("unknown_names", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("unknown_names")
