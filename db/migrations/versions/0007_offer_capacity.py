"""Add offers.available_in: where the seller listed capacity when the price was last seen.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

NULL where the seller publishes no capacity (and for every row written before this revision,
until its feed syncs again); otherwise the places, comma-separated, empty when none had
capacity. ix_offers_plan_shape gains the column at its end so the planner's read, which can
filter on capacity, still comes from the index alone (see 0006).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_offers_plan_shape"
_COLUMN = "available_in"


def _shape_columns() -> list[str]:
    """The index's columns as the database has them (read rather than copied)."""
    indexes = sa.inspect(op.get_bind()).get_indexes("offers")
    (index,) = [ix for ix in indexes if ix["name"] == _INDEX]
    return [str(name) for name in index["column_names"]]


def upgrade() -> None:
    columns = _shape_columns()
    op.add_column("offers", sa.Column(_COLUMN, sa.String(), nullable=True))
    op.drop_index(_INDEX, table_name="offers")
    op.create_index(_INDEX, "offers", [*columns, _COLUMN])


def downgrade() -> None:
    columns = [name for name in _shape_columns() if name != _COLUMN]
    op.drop_index(_INDEX, table_name="offers")
    op.create_index(_INDEX, "offers", columns)
    with op.batch_alter_table("offers") as batch:
        batch.drop_column(_COLUMN)
