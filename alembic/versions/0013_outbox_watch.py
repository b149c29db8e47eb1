"""WatchBookings on the outbox: each row's writing transaction, venue and guest; the purge horizon.

Adding the columns rewrites nothing: they are nullable, and the default of `xid`
(pg_current_xact_id(), volatile) is set after the column is added, so it applies to new rows only
(adding a column with a volatile default would rewrite the whole outbox under an exclusive lock).
Rows written before this migration keep NULLs and are never streamed by WatchBookings. Their
indexes are built concurrently in 0014, a migration of their own (tests/unit/test_migration_locks.py).

booking_outbox_horizon holds the highest watch position the relay's purge has deleted: a watch
asked to resume below it is refused rather than silently missing the purged changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Repeatable, as 0009 and 0010 are: a run cut off half-way runs again over itself.
    op.execute("ALTER TABLE booking_outbox ADD COLUMN IF NOT EXISTS xid xid8")
    op.execute("ALTER TABLE booking_outbox ALTER COLUMN xid SET DEFAULT pg_current_xact_id()")
    op.execute("ALTER TABLE booking_outbox ADD COLUMN IF NOT EXISTS venue_id text")
    op.execute("ALTER TABLE booking_outbox ADD COLUMN IF NOT EXISTS guest_id text")
    op.execute(
        "CREATE TABLE IF NOT EXISTS booking_outbox_horizon ("
        " singleton smallint DEFAULT 1 NOT NULL,"
        " xid xid8 DEFAULT '0'::xid8 NOT NULL,"
        " id bigint DEFAULT 0 NOT NULL,"
        " CONSTRAINT booking_outbox_horizon_pkey PRIMARY KEY (singleton),"
        " CONSTRAINT booking_outbox_horizon_one_row CHECK (singleton = 1))"
    )
    op.execute("INSERT INTO booking_outbox_horizon DEFAULT VALUES ON CONFLICT DO NOTHING")


def downgrade() -> None:
    op.drop_table("booking_outbox_horizon")
    op.drop_column("booking_outbox", "guest_id")
    op.drop_column("booking_outbox", "venue_id")
    op.drop_column("booking_outbox", "xid")
