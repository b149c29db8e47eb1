"""An index for the no-show sweep: confirmed bookings by start (built concurrently: see
adapters/migrations.create_index_concurrently).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa

from booking_service.adapters.migrations import create_index_concurrently, drop_index_concurrently

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "bookings_confirmed_start",
        "bookings",
        ["start_time", "booking_id"],
        postgresql_where=sa.text("status = 'CONFIRMED'"),
    )


def downgrade() -> None:
    drop_index_concurrently("bookings_confirmed_start", "bookings")
