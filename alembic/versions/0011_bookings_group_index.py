"""The index from a group to its bookings, built without blocking writes.

A group's bookings are read by bookings.group_id (adapters/groups.py); built concurrently, alone in
its migration (adapters/migrations.py, tests/unit/test_migration_locks.py): bookings may hold many
rows. Partial: only the bookings of a group are in it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from booking_service.adapters.migrations import create_index_concurrently, drop_index_concurrently

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "bookings_group", "bookings", ["group_id"], postgresql_where=sa.text("group_id IS NOT NULL")
    )


def downgrade() -> None:
    drop_index_concurrently("bookings_group", "bookings")
