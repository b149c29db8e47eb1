"""Bookings, their status history and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'PENDING', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW', 'EXPIRED'"
ACTIVE = "'CHECKED_IN', 'CONFIRMED', 'PENDING'"


def _time(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # btree_gist lets one GiST index mix equality on text with overlap on ranges (the
    # no-double-booking exclusion constraint).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "bookings",
        sa.Column("booking_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("booking_reference", sa.String(16), nullable=False, unique=True),
        sa.Column("guest_id", sa.Text, nullable=False),
        sa.Column("guest_name", sa.Text, nullable=False),
        sa.Column("guest_email", sa.Text, nullable=False, server_default=""),
        sa.Column("guest_phone", sa.Text, nullable=False, server_default=""),
        sa.Column("venue_id", sa.Text, nullable=False),
        sa.Column("venue_type", sa.Text, nullable=False),
        sa.Column("venue_name", sa.Text, nullable=False, server_default=""),
        sa.Column("venue_time_zone", sa.Text, nullable=False),
        sa.Column("unit_id", sa.Text, nullable=True),
        _time("start_time", nullable=False),
        _time("end_time", nullable=False),
        sa.Column("local_start_date", sa.Date, nullable=False),
        sa.Column("party_size", sa.Integer, nullable=False),
        sa.Column("special_requests", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("price_amount_minor", sa.BigInteger, nullable=True),
        sa.Column("price_currency", sa.String(3), nullable=True),
        sa.Column("payment_intent_id", sa.Text, nullable=False, server_default=""),
        sa.Column("inventory_reservation_id", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("cancellation_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("idempotency_key", sa.Text, nullable=False, server_default=""),
        _time("create_time", nullable=False),
        _time("update_time", nullable=False),
        _time("confirm_time"),
        _time("check_in_time"),
        _time("complete_time"),
        _time("cancel_time"),
        _time("no_show_time"),
        _time("expire_time"),
        sa.CheckConstraint("end_time > start_time", name="bookings_end_after_start"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="bookings_status_known"),
        sa.CheckConstraint("version >= 1", name="bookings_version_positive"),
        postgresql.ExcludeConstraint(
            ("venue_id", "="),
            ("unit_id", "="),
            (sa.text("tstzrange(start_time, end_time, '[)')"), "&&"),
            name="bookings_no_double_booking",
            using="gist",
            where=sa.text(f"unit_id IS NOT NULL AND status IN ({ACTIVE})"),
        ),
    )
    op.create_index("bookings_guest_start", "bookings", ["guest_id", "start_time", "booking_id"])
    op.create_index("bookings_venue_start", "bookings", ["venue_id", "start_time", "booking_id"])
    op.create_index(
        "bookings_pending_expiry", "bookings", ["expire_time"], postgresql_where=sa.text("status = 'PENDING'")
    )

    op.create_table(
        "booking_status_history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column(
            "booking_id", postgresql.UUID(as_uuid=False), sa.ForeignKey("bookings.booking_id"), nullable=False
        ),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("changed_fields", postgresql.ARRAY(sa.Text), nullable=False, server_default="{}"),
        _time("change_time", nullable=False),
    )
    op.create_index(
        "booking_status_history_booking", "booking_status_history", ["booking_id", "version"], unique=True
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("response", postgresql.JSONB, nullable=True),
        _time("created_at", nullable=False),
        _time("expires_at", nullable=False),
    )
    op.create_index("idempotency_keys_expiry", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("booking_status_history")
    op.drop_table("bookings")
