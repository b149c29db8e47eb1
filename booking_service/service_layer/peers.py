"""The peers this service coordinates, as the use cases see them: inventory, pricing, payments.

Every mutating call takes an idempotency key derived from the booking and the step (see `step_key`),
so repeating a step after a timeout or a crash never reserves, charges or refunds twice. The
adapters (adapters/peers) speak HTTP; failures reach the use cases as domain errors:

- PeerUnavailable: the peer did not answer in time, answered 5xx, or its circuit is open;
- SoldOut / UnitUnavailable: inventory has no room (a business answer, not a failure);
- PaymentDeclined: the payment service refused to confirm;
- PeerRejected: the peer refused the request itself (a bug on one side).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from booking_service.domain.pricing import PricingSnapshot
from booking_service.domain.values import Money, TimeSlot, VenueType


def step_key(booking_id: str, step: str) -> str:
    """The idempotency key of one saga step of one booking (the same on every retry of it)."""
    return f"booking:{booking_id}:{step}"


@dataclass(frozen=True, slots=True)
class Stay:
    """What a booking asks of inventory and pricing: where, which unit, when, for how many."""

    venue_id: str
    venue_type: VenueType | None
    unit_id: str | None
    slot: TimeSlot
    party_size: int
    time_zone: str


@dataclass(frozen=True, slots=True)
class Capacity:
    available: bool
    remaining: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Intent:
    intent_id: str
    status: str  # requires_confirmation, succeeded, canceled
    amount: Money
    refunded: Money

    @property
    def captured(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation as the inventory service sees it (for reconciliation)."""

    reservation_id: str
    booking_id: str
    held: bool  # False once released
    unit_id: str | None
    slot: TimeSlot
    party_size: int


@dataclass(frozen=True, slots=True)
class PeerRefund:
    """A refund as the payment service sees it (for reconciliation)."""

    refund_id: str
    amount: Money
    succeeded: bool
    reason: str = ""
    #: What this service attached to the refund when it asked for it (booking_id, refund_key).
    metadata: Mapping[str, str] = field(default_factory=dict)


class Inventory(Protocol):
    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        """Whether the stay fits, not counting the reservations in `exclude`."""

    async def reserve(self, key: str, booking_id: str, stay: Stay) -> str:
        """Holds capacity (and the unit) for the stay; returns the reservation id."""

    async def release(self, key: str, reservation_id: str) -> None: ...

    async def update(self, key: str, reservation_id: str, stay: Stay) -> None:
        """Moves the hold to another slot, unit or party size; all or nothing."""

    async def reservations(self, booking_id: str) -> list[Hold]:
        """Every reservation made for the booking, held or released."""


class Pricing(Protocol):
    async def calculate(self, stay: Stay, now: datetime) -> PricingSnapshot: ...

    async def estimate(self, stay: Stay) -> Money: ...


class Payments(Protocol):
    async def create_intent(self, key: str, booking_id: str, amount: Money) -> Intent: ...

    async def confirm(self, key: str, intent_id: str) -> Intent: ...

    async def get(self, intent_id: str) -> Intent: ...

    async def refund(
        self, key: str, intent_id: str, amount: Money, reason: str, metadata: Mapping[str, str]
    ) -> str:
        """Refunds part or all of a captured intent, with `metadata` attached to it (the payment
        service returns it with the refund, so a refund made whose answer was lost can be found);
        returns the refund id."""

    async def cancel(self, key: str, intent_id: str) -> Intent:
        """Voids an intent that was never captured."""

    async def intents(self, booking_id: str) -> list[Intent]:
        """Every intent opened for the booking."""

    async def refunds(self, intent_id: str) -> list[PeerRefund]:
        """Every refund of the intent."""


@dataclass(frozen=True, slots=True)
class Peers:
    inventory: Inventory
    pricing: Pricing
    payments: Payments
