"""Booking groups (issue 17): one guest's bookings at one venue, made and cancelled together.

- booking_groups: the group (reference, guest, venue, the group's one payment intent and total, a
  version for optimistic locking, its cancellation).
- bookings.group_id: the group a booking is an item of (NULL for a booking made on its own). A
  nullable column without a default is a change of the catalogue only (no table rewrite); the
  ACCESS EXCLUSIVE lock it needs is asked for with a short lock_timeout, so a long transaction on
  bookings makes the migration fail (run it again) instead of queueing every write behind it. Its
  index is built concurrently in 0011, alone, as tests/unit/test_migration_locks.py asks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_groups",
        sa.Column("group_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("group_reference", sa.String(16), nullable=False, unique=True),
        sa.Column("guest_id", sa.Text, nullable=False),
        sa.Column("guest_name", sa.Text, nullable=False),
        sa.Column("guest_email", sa.Text, nullable=False, server_default=""),
        sa.Column("guest_phone", sa.Text, nullable=False, server_default=""),
        sa.Column("venue_id", sa.Text, nullable=False),
        sa.Column("venue_type", sa.Text, nullable=False),
        sa.Column("venue_name", sa.Text, nullable=False, server_default=""),
        sa.Column("venue_time_zone", sa.Text, nullable=False),
        sa.Column("booking_ids", postgresql.ARRAY(postgresql.UUID(as_uuid=False)), nullable=False),
        sa.Column("total_amount_minor", sa.BigInteger, nullable=True),
        sa.Column("total_currency", sa.String(3), nullable=True),
        sa.Column("payment_intent_id", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("cancellation_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("idempotency_key", sa.Text, nullable=False, server_default=""),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_time", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("version >= 1", name="booking_groups_version_positive"),
        sa.CheckConstraint("cardinality(booking_ids) >= 1", name="booking_groups_not_empty"),
        if_not_exists=True,  # repeatable, as 0009 is (a run cut off half-way, a stamp written back)
    )
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "bookings", sa.Column("group_id", postgresql.UUID(as_uuid=False), nullable=True), if_not_exists=True
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("bookings", "group_id")
    op.drop_table("booking_groups")
