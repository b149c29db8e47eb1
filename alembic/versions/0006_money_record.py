"""The booking's money record and its one-change-at-a-time lock; sagas that need an operator.

- bookings.saga_id: the saga changing the booking's money or hold right now (NULL when none); set
  and cleared by conditional updates, so two such changes can never run at once.
- bookings.payment_status, captured_amount_minor, refunds: what the payment service confirmed (the
  intent's state, the capture, each refund with its state). They replace refunded_amount_minor,
  which claimed a refund as soon as it was planned: a planned refund whose release saga is still
  running becomes REQUESTED, one whose saga finished SUCCEEDED.
- bookings.attention: set while a saga of the booking needs an operator.
- booking_sagas.status gains needs_attention and resolved.
- idempotency_keys.owner: the saga of the request that claimed the key; only it may give the key back.

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
    op.add_column("idempotency_keys", sa.Column("owner", sa.Text, nullable=True))
    op.add_column("bookings", sa.Column("saga_id", postgresql.UUID(as_uuid=False), nullable=True))
    op.add_column("bookings", sa.Column("payment_status", sa.Text, nullable=True))
    op.add_column("bookings", sa.Column("captured_amount_minor", sa.BigInteger, nullable=True))
    op.add_column(
        "bookings",
        sa.Column("refunds", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("bookings", sa.Column("attention", postgresql.JSONB, nullable=True))
    # What the sagas before this one did, as far as it can be known here: a confirmed prepaid booking
    # was captured; a closed one never confirmed had its intent voided once its release saga ended;
    # a refund planned at cancellation was made once its release saga ended (its id is in the
    # saga's data), and is REQUESTED while the saga still runs (the release finds it made, or makes
    # it: its reason is the one it was asked for with). Reconciliation checks the rest.
    op.execute(
        """
        UPDATE bookings b SET
          payment_status = CASE
            WHEN b.requires_prepayment AND b.confirm_time IS NOT NULL THEN 'CAPTURED'
            WHEN b.status IN ('CANCELLED', 'EXPIRED') AND NOT EXISTS (
                SELECT 1 FROM booking_sagas s WHERE s.booking_id = b.booking_id
                AND s.kind = 'release' AND s.status = 'running') THEN 'VOIDED'
            ELSE 'REQUIRES_CONFIRMATION' END,
          captured_amount_minor = CASE WHEN b.requires_prepayment AND b.confirm_time IS NOT NULL
                                       THEN b.price_amount_minor END
        WHERE b.payment_intent_id <> ''
        """
    )
    op.execute(
        """
        UPDATE bookings b SET refunds = jsonb_build_array(jsonb_build_object(
            'key', 'refund', 'amount_minor', b.refunded_amount_minor, 'reason', 'booking cancelled',
            'request_time', to_jsonb(b.cancel_time), 'failure', '',
            'refund_id', coalesce(r.refund_id, ''),
            'settle_time', CASE WHEN r.refund_id IS NOT NULL THEN to_jsonb(r.updated_at) END,
            'status', CASE WHEN r.refund_id IS NOT NULL THEN 'SUCCEEDED' ELSE 'REQUESTED' END))
        FROM bookings b2 LEFT JOIN LATERAL (
            SELECT s.data ->> 'refund_id' AS refund_id, s.updated_at FROM booking_sagas s
            WHERE s.booking_id = b2.booking_id AND s.kind = 'release' AND s.status = 'done'
            AND s.data ? 'refund_id' LIMIT 1) r ON true
        WHERE b2.booking_id = b.booking_id AND b.refunded_amount_minor > 0
          AND b.captured_amount_minor IS NOT NULL
        """
    )
    # The one-change-at-a-time lock covers the sagas running at the upgrade.
    op.execute(
        """
        UPDATE bookings b SET saga_id = s.saga_id FROM booking_sagas s
        WHERE s.booking_id = b.booking_id AND s.status = 'running'
          AND s.kind IN ('confirm', 'update', 'release')
        """
    )
    op.drop_column("bookings", "refunded_amount_minor")
    op.drop_constraint("booking_sagas_status_known", "booking_sagas")
    op.create_check_constraint(
        "booking_sagas_status_known",
        "booking_sagas",
        "status IN ('running', 'done', 'compensated', 'needs_attention', 'resolved')",
    )
    # The index of the sagas that need an operator is built concurrently by 0007.


def downgrade() -> None:
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
    op.drop_column("idempotency_keys", "owner")
