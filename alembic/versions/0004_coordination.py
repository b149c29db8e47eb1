"""Coordination with the peers: the pricing snapshot and refund on bookings, and the saga log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("pricing_quote_id", sa.Text, nullable=False, server_default=""))
    op.add_column(
        "bookings", sa.Column("requires_prepayment", sa.Boolean, nullable=False, server_default="false")
    )
    op.add_column("bookings", sa.Column("cancellation_free_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "bookings", sa.Column("cancellation_fee_percent", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("bookings", sa.Column("refunded_amount_minor", sa.BigInteger, nullable=True))
    # One row per multi-step change that talks to the peers: what it did so far, so that a crash
    # between two steps is finished or compensated by the recovery worker.
    op.create_table(
        "booking_sagas",
        sa.Column("saga_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("booking_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("data", postgresql.JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('running', 'done', 'compensated')", name="booking_sagas_status_known"),
    )
    op.create_index(
        "booking_sagas_open", "booking_sagas", ["lease_until"], postgresql_where=sa.text("status = 'running'")
    )
    op.create_index("booking_sagas_booking", "booking_sagas", ["booking_id"])
    # One change of a booking's hold or payment at a time: a second one waits its turn (ABORTED).
    op.create_index(
        "booking_sagas_one_change",
        "booking_sagas",
        ["booking_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running' AND kind IN ('update', 'confirm')"),
    )


def downgrade() -> None:
    op.drop_table("booking_sagas")
    for column in (
        "refunded_amount_minor",
        "cancellation_fee_percent",
        "cancellation_free_until",
        "requires_prepayment",
        "pricing_quote_id",
    ):
        op.drop_column("bookings", column)
