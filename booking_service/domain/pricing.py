"""The pricing snapshot a booking keeps from its quote, and what a cancellation gives back.

Prices are the pricing service's; this service only freezes the quote it was given at booking time
(total, whether the venue wants prepayment, the cancellation policy) and applies that policy when
the booking is cancelled: everything back until the free-cancellation deadline, less the fee after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from booking_service.domain.values import Money


@dataclass(frozen=True, slots=True)
class CancellationPolicy:
    """Free cancellation until `free_until`; after it, `fee_percent` of the total is kept."""

    free_until: datetime | None
    fee_percent: int

    def fee(self, total: Money, now: datetime) -> Money:
        if self.free_until is not None and now <= self.free_until:
            return Money(0, total.currency)
        # Half up, in minor units: 12.5 cents of fee is 13.
        return Money((total.amount_minor * self.fee_percent + 50) // 100, total.currency)

    def lapsed(self, now: datetime) -> bool:
        """Whether free cancellation is over (or never was)."""
        return self.free_until is None or now > self.free_until


@dataclass(frozen=True, slots=True)
class PricingSnapshot:
    quote_id: str
    total: Money
    requires_prepayment: bool
    cancellation: CancellationPolicy

    def rescheduled(self, new: PricingSnapshot, now: datetime) -> PricingSnapshot:
        """The snapshot a reschedule keeps: the new quote, but a policy whose free cancellation has
        lapsed stays lapsed, and the fee never falls, so that no reschedule buys back a better refund
        than cancelling now would give (a guest past the deadline cannot move the stay to regain
        free cancellation). Before the deadline the new quote's policy applies as quoted."""
        old = self.cancellation
        if not old.lapsed(now):
            return new
        kept = CancellationPolicy(old.free_until, max(old.fee_percent, new.cancellation.fee_percent))
        return PricingSnapshot(new.quote_id, new.total, new.requires_prepayment, kept)

    def refund_on_cancel(self, captured: Money, now: datetime) -> Money:
        """What goes back of a captured payment when the booking is cancelled now."""
        fee = self.cancellation.fee(self.total, now)
        return Money(max(0, captured.amount_minor - fee.amount_minor), captured.currency)
