"""The booking's money record and its one-change-at-a-time lock; sagas that need an operator.

- bookings.saga_id: the saga changing the booking's money or hold right now (NULL when none); set
  and cleared by conditional updates, so two such changes can never run at once.
- bookings.payment_status, captured_amount_minor, refunds: what the payment service confirmed (the
  intent's state, the capture, each refund with its state). They replace refunded_amount_minor,
  which claimed a refund as soon as it was planned: a planned refund whose release saga is still
  running becomes REQUESTED, one whose saga finished SUCCEEDED.
- bookings.attention: set while a saga of the booking needs an operator.
- booking_sagas.status gains needs_attention and resolved.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("saga_id", postgresql.UUID(as_uuid=False), nullable=True))
    op.add_column("bookings", sa.Column("payment_status", sa.Text, nullable=True))
    op.add_column("bookings", sa.Column("captured_amount_minor", sa.BigInteger, nullable=True))
    op.add_column(
        "bookings",
        sa.Column("refunds", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("bookings", sa.Column("attention", postgresql.JSONB, nullable=True))
    op.execute(
        """
        UPDATE bookings SET
          payment_status = CASE WHEN requires_prepayment AND confirm_time IS NOT NULL THEN 'CAPTURED'
                                ELSE 'REQUIRES_CONFIRMATION' END,
          captured_amount_minor = CASE WHEN requires_prepayment AND confirm_time IS NOT NULL
                                       THEN price_amount_minor END
        WHERE payment_intent_id <> ''
        """
    )
    op.execute(
        """
        UPDATE bookings b SET refunds = jsonb_build_array(jsonb_build_object(
            'key', 'refund', 'amount_minor', b.refunded_amount_minor, 'reason', 'booking cancelled',
            'request_time', to_jsonb(b.cancel_time), 'refund_id', '', 'settle_time', NULL, 'failure', '',
            'status', CASE WHEN EXISTS (SELECT 1 FROM booking_sagas s WHERE s.booking_id = b.booking_id
                                         AND s.kind = 'release' AND s.status = 'running')
                           THEN 'REQUESTED' ELSE 'SUCCEEDED' END))
        WHERE b.refunded_amount_minor > 0 AND b.captured_amount_minor IS NOT NULL
        """
    )
    op.drop_column("bookings", "refunded_amount_minor")
    op.drop_constraint("booking_sagas_status_known", "booking_sagas")
    op.create_check_constraint(
        "booking_sagas_status_known",
        "booking_sagas",
        "status IN ('running', 'done', 'compensated', 'needs_attention', 'resolved')",
    )
    op.create_index(
        "booking_sagas_attention",
        "booking_sagas",
        ["updated_at"],
        postgresql_where=sa.text("status = 'needs_attention'"),
    )


def downgrade() -> None:
    op.drop_index("booking_sagas_attention", "booking_sagas")
    op.execute("UPDATE booking_sagas SET status = 'done' WHERE status IN ('needs_attention', 'resolved')")
    op.drop_constraint("booking_sagas_status_known", "booking_sagas")
    op.create_check_constraint(
        "booking_sagas_status_known", "booking_sagas", "status IN ('running', 'done', 'compensated')"
    )
    op.add_column("bookings", sa.Column("refunded_amount_minor", sa.BigInteger, nullable=True))
    op.execute(
        "UPDATE bookings SET refunded_amount_minor = (SELECT sum((r->>'amount_minor')::bigint)"
        " FROM jsonb_array_elements(refunds) r WHERE r->>'status' = 'SUCCEEDED')"
    )
    for name in ("attention", "refunds", "captured_amount_minor", "payment_status", "saga_id"):
        op.drop_column("bookings", name)
