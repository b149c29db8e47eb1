"""The index of the sagas that need an operator, built without blocking writes.

0006 built it with a plain CREATE INDEX inside its transaction, which holds off every write to
booking_sagas until the build ends; it is now built here, concurrently, alone in its migration (a
database that 0006 gave it keeps it: a valid index of that name is left as it is).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from booking_service.adapters.migrations import create_index_concurrently, drop_index_concurrently

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_index_concurrently(
        "booking_sagas_attention",
        "booking_sagas",
        ["updated_at"],
        postgresql_where=sa.text("status = 'needs_attention'"),
    )


def downgrade() -> None:
    drop_index_concurrently("booking_sagas_attention", "booking_sagas")
