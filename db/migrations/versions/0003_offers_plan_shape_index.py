"""Add ix_offers_plan_shape: a covering index for the planner's cheapest-per-shape read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

The planner's read (:attr:`db.offer_sql.OfferQuery.cheapest_per_shape`) filters on gpu,
withdrawn_at, interruptible, purchase_option, gpu_count, provider, currency, gpu_memory_gb and
region, then takes MIN(price_per_hour) per shape (gpu_count, term_hours, ...). With every one of
those columns in the index both steps read the index alone, instead of one table lookup per
matching offer (thousands at 100k offers); the few cheapest rows are then found by an equality
seek on its leading columns and price_per_hour. Runs in upgrade's one write transaction on both
dialects (no CONCURRENTLY).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "gpu",
    "withdrawn_at",
    "interruptible",
    "purchase_option",
    "gpu_count",
    "term_hours",
    "provider",
    "currency",
    "price_per_hour",
    "gpu_memory_gb",
    "region",
]


def upgrade() -> None:
    op.create_index("ix_offers_plan_shape", "offers", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_offers_plan_shape", table_name="offers")
