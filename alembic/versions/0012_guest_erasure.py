"""Guest erasure (issue 18, part 5: EraseGuestData).

- erased_guests: one row per guest whose personal data was erased (a tombstone): when, by whom. A
  booking or group written later for that guest id is stored erased (adapters/erasure.py).
- idempotency_keys.erased_fingerprint: the request's digest with the guest's data erased, which
  replaces the fingerprint once the guest is erased (a retry with the key is still recognised, and
  no digest of their data is left).
- bookings.guest_erased_version: the version at which the booking's guest data was erased (NULL:
  never). A change made from the version just before it still lands (Booking.ensure_version), and
  every later save stores the booking erased.

A nullable column without a default (two of them) changes the catalogue only (no table rewrite); its ACCESS
EXCLUSIVE lock is asked for with a short lock_timeout, as 0010 does.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_guests",
        sa.Column("guest_id", sa.Text, primary_key=True),
        sa.Column("erase_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        if_not_exists=True,  # repeatable, as 0009 and 0010 are
    )
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column(
        "bookings", sa.Column("guest_erased_version", sa.BigInteger, nullable=True), if_not_exists=True
    )
    op.add_column(
        "idempotency_keys",
        sa.Column("erased_fingerprint", sa.LargeBinary, nullable=True),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.drop_column("idempotency_keys", "erased_fingerprint")
    op.drop_column("bookings", "guest_erased_version")
    op.drop_table("erased_guests")
