"""The transactional outbox of booking events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False, unique=True),
        sa.Column("booking_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("booking_version", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("partition", sa.SmallInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "booking_outbox_unsent",
        "booking_outbox",
        ["partition", "id"],
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index(
        "booking_outbox_sent", "booking_outbox", ["sent_at"], postgresql_where=sa.text("sent_at IS NOT NULL")
    )
    # Wakes the relays when events commit (a hint: they also poll, since a listener that was
    # disconnected misses notifications).
    op.execute(
        """
        CREATE FUNCTION booking_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('booking_outbox', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER booking_outbox_notify AFTER INSERT ON booking_outbox
        FOR EACH STATEMENT EXECUTE FUNCTION booking_outbox_notify()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER booking_outbox_notify ON booking_outbox")
    op.execute("DROP FUNCTION booking_outbox_notify()")
    op.drop_table("booking_outbox")
