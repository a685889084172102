"""Add interruption_rates: the sellers' published spot interruption data.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

One row per (provider, region, instance type), owned by the feed that last stored it; an
interruption feed's sync replaces its rows in one transaction. A new table, so no batch copy is
needed on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interruption_rates",
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("instance_type", sa.String(), nullable=False),
        sa.Column("feed", sa.String(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("bucket_label", sa.String(), nullable=False),
        sa.Column("interruption_min_percent", sa.Float(), nullable=False),
        sa.Column("interruption_max_percent", sa.Float(), nullable=False),
        sa.Column("savings_percent", sa.Float(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "provider", "region", "instance_type", name="pk_interruption_rates"
        ),
    )
    op.create_index("ix_interruption_rates_feed", "interruption_rates", ["feed"])


def downgrade() -> None:
    op.drop_index("ix_interruption_rates_feed", table_name="interruption_rates")
    op.drop_table("interruption_rates")
