"""The index behind a venue's last recorded time zone, built without blocking writes.

A create that names no venue time zone takes the zone of the venue's most recently created booking
(service_layer/venue_zone.py): `ORDER BY create_time DESC, booking_id DESC LIMIT 1` for one venue,
read from this index alone (it carries the zone). Built concurrently, alone in its migration
(adapters/migrations.py, tests/unit/test_migration_locks.py): bookings may hold many rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from booking_service.adapters.migrations import create_index_concurrently, drop_index_concurrently

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "bookings_venue_created",
        "bookings",
        ["venue_id", "create_time", "booking_id"],
        postgresql_include=["venue_time_zone"],
    )


def downgrade() -> None:
    drop_index_concurrently("bookings_venue_created", "bookings")
