"""A new booking's erasure check in one round trip (issue 19: round trips per create).

`booking_guest_erased(lock_class, guest_id)` takes the shared advisory lock that orders a new
record of the guest against an erasure of the guest (adapters/erasure.py), then says whether the
guest is erased. One statement could not do both: under READ COMMITTED a statement reads from the
snapshot taken when it began, so a tombstone committed while it waited for the lock would be
missed. A VOLATILE PL/pgSQL function takes a new snapshot for each statement it runs, so its
EXISTS, run after the lock is granted, sees an erasure that committed meanwhile, as the two
statements did.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION booking_guest_erased(lock_class integer, guest text)
        RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(lock_class, hashtext(guest));
            RETURN EXISTS (SELECT 1 FROM erased_guests WHERE guest_id = guest);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS booking_guest_erased(integer, text)")
