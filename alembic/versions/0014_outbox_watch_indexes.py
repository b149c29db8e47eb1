"""The indexes WatchBookings reads the outbox by, built without blocking writes.

One in (xid, id) for the process's shared reader of every new change, one per venue and one per
guest for a watch that catches up from its start position (adapters/outbox_watch.py). Built
concurrently, alone in their migration (adapters/migrations.py, tests/unit/test_migration_locks.py):
the outbox may hold a week of rows. Partial: rows written before 0013 (no xid) are never streamed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from booking_service.adapters.migrations import create_index_concurrently, drop_index_concurrently

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("booking_outbox_watch", ["xid", "id"]),
    ("booking_outbox_watch_venue", ["venue_id", "xid", "id"]),
    ("booking_outbox_watch_guest", ["guest_id", "xid", "id"]),
)


def upgrade() -> None:
    for name, columns in _INDEXES:
        create_index_concurrently(
            name, "booking_outbox", columns, postgresql_where=sa.text("xid IS NOT NULL")
        )


def downgrade() -> None:
    for name, _ in reversed(_INDEXES):
        drop_index_concurrently(name, "booking_outbox")
