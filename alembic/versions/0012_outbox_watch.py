"""WatchBookings on the outbox: each row's writing transaction, venue and guest; the purge horizon.

Adding the columns rewrites nothing: they are nullable, and the default of `xid`
(pg_current_xact_id(), volatile) is set after the column is added, so it applies to new rows only
(adding a column with a volatile default would rewrite the whole outbox under an exclusive lock).
Rows written before this migration keep NULLs and are never streamed by WatchBookings. Their
indexes are built concurrently in 0013, a migration of their own (tests/unit/test_migration_locks.py).

booking_outbox_horizon holds the highest watch position the relay's purge has deleted: a watch
asked to resume below it is refused rather than silently missing the purged changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from booking_service.adapters.tables import Xid8

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("booking_outbox", sa.Column("xid", Xid8(), nullable=True))
    op.alter_column("booking_outbox", "xid", server_default=sa.text("pg_current_xact_id()"))
    op.add_column("booking_outbox", sa.Column("venue_id", sa.Text, nullable=True))
    op.add_column("booking_outbox", sa.Column("guest_id", sa.Text, nullable=True))
    op.create_table(
        "booking_outbox_horizon",
        sa.Column("singleton", sa.SmallInteger, primary_key=True, server_default=sa.text("1")),
        sa.Column("xid", Xid8(), nullable=False, server_default=sa.text("'0'::xid8")),
        sa.Column("id", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint("singleton = 1", name="booking_outbox_horizon_one_row"),
    )
    op.execute("INSERT INTO booking_outbox_horizon DEFAULT VALUES")


def downgrade() -> None:
    op.drop_table("booking_outbox_horizon")
    op.drop_column("booking_outbox", "guest_id")
    op.drop_column("booking_outbox", "venue_id")
    op.drop_column("booking_outbox", "xid")
