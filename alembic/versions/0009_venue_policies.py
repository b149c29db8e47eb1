"""Per-venue booking rules (issue 17): the policies, their history, and buffered bookings.

- venue_policies, venue_policy_history: a venue's own rules (domain/venue_policy.py) and one row per
  version (actor, time, changed fields, old and new values).
- bookings.buffer_before_seconds, buffer_after_seconds, policy_version, rules: the rules frozen when a
  booking is made. Constant defaults (0, 0, 0, NULL): PostgreSQL adds them without rewriting the
  table. Older bookings keep no buffers and are judged by the venue's rules of the day.
- booking_blocked_range(): [start - before, end + after) as an IMMUTABLE function (index expressions
  must be; `timestamptz - interval` is only STABLE, but whole seconds do not depend on the zone).
- bookings_no_double_booking now compares the blocked ranges. PostgreSQL cannot build an exclusion
  constraint concurrently: the new one is built under the table's ACCESS EXCLUSIVE lock, in the
  same transaction that drops the old one (so no moment goes without the rule). On a large table
  this blocks bookings for the build (a GiST build: seconds per million active rows); run it in a
  quiet hour. Bookings made so far have no buffers, so the new constraint holds for every row
  that the old one allowed: the build cannot fail on existing data.

Safe to run again: everything runs in one transaction (PostgreSQL's DDL is transactional), and each
statement is written to be repeatable (IF NOT EXISTS, OR REPLACE, DROP ... IF EXISTS before ADD).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "'CHECKED_IN', 'CONFIRMED', 'PENDING'"

FUNCTION = (
    "CREATE OR REPLACE FUNCTION booking_blocked_range(start_time timestamptz, end_time timestamptz,"
    " before_seconds integer, after_seconds integer) RETURNS tstzrange LANGUAGE sql IMMUTABLE"
    " PARALLEL SAFE AS $$ SELECT tstzrange(start_time - make_interval(secs => before_seconds),"
    " end_time + make_interval(secs => after_seconds), '[)') $$"
)


def _constraint(range_expression: str) -> str:
    return (
        "ALTER TABLE bookings ADD CONSTRAINT bookings_no_double_booking EXCLUDE USING gist"
        f" (venue_id WITH =, unit_id WITH =, ({range_expression}) WITH &&)"
        f" WHERE (unit_id IS NOT NULL AND status IN ({ACTIVE}))"
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS venue_policies (
            venue_id text PRIMARY KEY,
            version bigint NOT NULL,
            time_zone text NOT NULL DEFAULT '',
            rules jsonb NOT NULL DEFAULT '{}'::jsonb,
            update_time timestamptz NOT NULL,
            CONSTRAINT venue_policies_version_positive CHECK (version >= 1)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS venue_policy_history (
            venue_id text NOT NULL REFERENCES venue_policies (venue_id),
            version bigint NOT NULL,
            actor text NOT NULL,
            source text NOT NULL,
            changed_fields text[] NOT NULL,
            old_values jsonb NOT NULL,
            new_values jsonb NOT NULL,
            change_time timestamptz NOT NULL,
            PRIMARY KEY (venue_id, version)
        )
        """
    )
    op.execute(
        "ALTER TABLE bookings"
        " ADD COLUMN IF NOT EXISTS buffer_before_seconds integer NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS buffer_after_seconds integer NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS policy_version bigint NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS rules jsonb"
    )
    op.execute(FUNCTION)
    op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_no_double_booking")
    op.execute(
        _constraint(
            "booking_blocked_range(start_time, end_time, buffer_before_seconds, buffer_after_seconds)"
        )
    )


def downgrade() -> None:
    op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_no_double_booking")
    op.execute(_constraint("tstzrange(start_time, end_time, '[)')"))
    op.execute("DROP FUNCTION IF EXISTS booking_blocked_range(timestamptz, timestamptz, integer, integer)")
    op.execute(
        "ALTER TABLE bookings DROP COLUMN IF EXISTS buffer_before_seconds,"
        " DROP COLUMN IF EXISTS buffer_after_seconds, DROP COLUMN IF EXISTS policy_version,"
        " DROP COLUMN IF EXISTS rules"
    )
    op.execute("DROP TABLE IF EXISTS venue_policy_history")
    op.execute("DROP TABLE IF EXISTS venue_policies")
