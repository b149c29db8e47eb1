"""The trace context of each outbox event, so that the relay publishes it in the trace of its call.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # {"traceparent": ..., "tracestate": ...}; NULL when tracing was off. Nullable without a default,
    # so adding it rewrites nothing in a large outbox.
    op.add_column("booking_outbox", sa.Column("trace_context", postgresql.JSONB, nullable=True))


def downgrade() -> None:
    op.drop_column("booking_outbox", "trace_context")
