"""The booking's money record: what the payment service confirmed, and nothing it has not.

A booking paid up front has one payment intent. The record keeps the intent's state as the payment
service last confirmed it (open, captured, voided), the amount captured, and each refund with its
own state: REQUESTED when this service decided it (a cancellation under the frozen policy), then
SUCCEEDED or FAILED as the payment service answers. `refunded` counts SUCCEEDED refunds only;
`refund_pending` says what is still in flight. Values are immutable: each change makes a new
record, which the booking stores with a new version (model.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from booking_service.domain.values import Money


class PaymentStatus(enum.Enum):
    """The intent's state as the payment service confirmed it."""

    REQUIRES_CONFIRMATION = "REQUIRES_CONFIRMATION"  # open: nothing taken yet
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"  # cancelled before anything was taken


class RefundStatus(enum.Enum):
    REQUESTED = "REQUESTED"  # decided here; the payment service has not confirmed it yet
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # refused for good by the payment service: an operator settles it


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of a captured payment. `key` is this service's name for it (the refund's
    idempotency key is derived from it), known before the payment service names it `refund_id`."""

    key: str
    amount: Money
    status: RefundStatus
    reason: str
    request_time: datetime
    refund_id: str = ""
    settle_time: datetime | None = None
    failure: str = ""


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    intent_id: str
    #: What the intent is for (the booking's price when it was opened).
    amount: Money
    status: PaymentStatus = PaymentStatus.REQUIRES_CONFIRMATION
    #: What the payment service took; None until it confirmed a capture.
    captured: Money | None = None
    refunds: tuple[Refund, ...] = ()

    @property
    def refunded(self) -> Money:
        """What went back, as the payment service confirmed it."""
        return self._total(RefundStatus.SUCCEEDED)

    @property
    def refund_pending(self) -> Money:
        """What was decided to go back but is not confirmed yet."""
        return self._total(RefundStatus.REQUESTED)

    @property
    def refundable(self) -> Money:
        """What is captured and neither refunded nor asked back yet."""
        if self.captured is None:
            return Money(0, self.amount.currency)
        return self.captured - self.refunded - self.refund_pending

    def refund(self, key: str) -> Refund | None:
        return next((refund for refund in self.refunds if refund.key == key), None)

    def with_capture(self, captured: Money) -> PaymentRecord:
        return replace(self, status=PaymentStatus.CAPTURED, captured=captured)

    def with_void(self) -> PaymentRecord:
        return replace(self, status=PaymentStatus.VOIDED)

    def with_refund_requested(self, key: str, amount: Money, reason: str, now: datetime) -> PaymentRecord:
        if amount.amount_minor <= 0 or amount.amount_minor > self.refundable.amount_minor:
            raise ValueError(f"cannot ask {amount} back of {self.refundable} refundable")
        return replace(
            self, refunds=(*self.refunds, Refund(key, amount, RefundStatus.REQUESTED, reason, now))
        )

    def with_refund_settled(
        self, key: str, status: RefundStatus, now: datetime, refund_id: str = "", failure: str = ""
    ) -> PaymentRecord:
        refunds = tuple(
            replace(
                r,
                status=status,
                settle_time=None if status is RefundStatus.REQUESTED else now,
                refund_id=refund_id or r.refund_id,
                failure=failure,
            )
            if r.key == key
            else r
            for r in self.refunds
        )
        return replace(self, refunds=refunds)

    def _total(self, status: RefundStatus) -> Money:
        return Money(
            sum(r.amount.amount_minor for r in self.refunds if r.status is status), self.amount.currency
        )
