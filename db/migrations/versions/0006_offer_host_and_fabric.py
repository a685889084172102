"""Add offers.interconnect and offers.interconnect_gbps, and cover the host filters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The fabric an offer's instances talk over (EFA, InfiniBand, GPUDirect-TCPX ...) and the
documented bandwidth between instances, both NULL where the seller documents none; rows written
before this revision read as unknown until their feed syncs again. ix_offers_plan_shape gains
vcpus, memory_gb and interconnect_gbps at its end, so the planner's read, which now filters on
host size per GPU by default, still comes from the index alone (see 0003); the leading columns,
which the seeks use, are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_offers_plan_shape"
_HOST_COLUMNS = ["vcpus", "memory_gb", "interconnect_gbps"]


def _shape_columns() -> list[str]:
    """The index's columns as the database has them (0003's list, read rather than copied)."""
    indexes = sa.inspect(op.get_bind()).get_indexes("offers")
    (index,) = [ix for ix in indexes if ix["name"] == _INDEX]
    return [str(name) for name in index["column_names"]]


def upgrade() -> None:
    columns = _shape_columns()
    op.add_column("offers", sa.Column("interconnect", sa.String(), nullable=True))
    op.add_column("offers", sa.Column("interconnect_gbps", sa.Float(), nullable=True))
    op.drop_index(_INDEX, table_name="offers")
    op.create_index(_INDEX, "offers", [*columns, *_HOST_COLUMNS])


def downgrade() -> None:
    columns = [name for name in _shape_columns() if name not in _HOST_COLUMNS]
    op.drop_index(_INDEX, table_name="offers")
    op.create_index(_INDEX, "offers", columns)
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("interconnect_gbps")
        batch.drop_column("interconnect")
