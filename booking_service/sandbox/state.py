"""The sandbox peers' state: inventory holds, price rules, payment intents and refunds.

Deliberately simple but real: capacity is counted in seats per venue over time (a new hold fits if,
at every instant of its window, the held seats plus its own stay within the venue's capacity), a
unit is held by at most one reservation at a time, and payments move through the states a payment
service uses (requires_confirmation -> succeeded -> refunded in part or whole, or canceled).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_CAPACITY = 200
CURRENCY = "EUR"


class Refused(Exception):
    """A request the sandbox refuses: `status` is the HTTP status, `code` a stable error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Hold:
    reservation_id: str
    booking_id: str
    venue_id: str
    unit_id: str | None
    start: datetime
    end: datetime
    party_size: int
    status: str = "held"  # or released


@dataclass
class Inventory:
    capacity: dict[str, int] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    #: The same holds by venue: checks look at one venue's holds, not every hold ever made (a
    #: benchmark makes tens of thousands, and the sandbox must not become what it measures).
    by_venue: dict[str, list[Hold]] = field(default_factory=dict)

    def remaining(self, venue_id: str, start: datetime, end: datetime, exclude: Collection[str] = ()) -> int:
        """The venue's free seats at the fullest instant of the window."""
        overlapping = [
            h
            for h in self.by_venue.get(venue_id, ())
            if h.status == "held" and h.start < end and start < h.end and h.reservation_id not in exclude
        ]
        points = sorted({start, *(h.start for h in overlapping if h.start > start)})
        peak = max(
            (sum(h.party_size for h in overlapping if h.start <= p < h.end) for p in points), default=0
        )
        return self.capacity.get(venue_id, DEFAULT_CAPACITY) - peak

    def unit_taken(
        self, venue_id: str, unit_id: str | None, start: datetime, end: datetime, exclude: Collection[str]
    ) -> bool:
        return unit_id is not None and any(
            h.status == "held"
            and h.unit_id == unit_id
            and h.start < end
            and start < h.end
            and h.reservation_id not in exclude
            for h in self.by_venue.get(venue_id, ())
        )

    def check(
        self,
        venue_id: str,
        unit_id: str | None,
        start: datetime,
        end: datetime,
        party: int,
        exclude: Collection[str] = (),
    ) -> tuple[bool, int, str]:
        remaining = self.remaining(venue_id, start, end, exclude)
        if self.unit_taken(venue_id, unit_id, start, end, exclude):
            return False, remaining, f"unit {unit_id} is held for an overlapping time"
        if remaining < party:
            return False, remaining, f"only {max(remaining, 0)} seats left"
        return True, remaining, ""

    def reserve(
        self, booking_id: str, venue_id: str, unit_id: str | None, start: datetime, end: datetime, party: int
    ) -> Hold:
        self._fits(venue_id, unit_id, start, end, party, exclude=())
        hold = Hold(f"res_{uuid.uuid4().hex[:16]}", booking_id, venue_id, unit_id, start, end, party)
        self.holds[hold.reservation_id] = hold
        self.by_venue.setdefault(venue_id, []).append(hold)
        return hold

    def release(self, reservation_id: str) -> Hold:
        hold = self._hold(reservation_id)
        hold.status = "released"
        return hold

    def update(
        self, reservation_id: str, unit_id: str | None, start: datetime, end: datetime, party: int
    ) -> Hold:
        hold = self._hold(reservation_id)
        if hold.status != "held":
            raise Refused(409, "reservation_released", f"reservation {reservation_id} was released")
        self._fits(hold.venue_id, unit_id, start, end, party, exclude=(reservation_id,))
        hold.unit_id, hold.start, hold.end, hold.party_size = unit_id, start, end, party
        return hold

    def _fits(
        self,
        venue_id: str,
        unit_id: str | None,
        start: datetime,
        end: datetime,
        party: int,
        exclude: Collection[str],
    ) -> None:
        if self.unit_taken(venue_id, unit_id, start, end, exclude):
            raise Refused(409, "unit_unavailable", f"unit {unit_id} is held for an overlapping time")
        if self.remaining(venue_id, start, end, exclude) < party:
            raise Refused(409, "sold_out", f"venue {venue_id} has fewer than {party} seats left then")

    def get(self, reservation_id: str) -> Hold:
        return self._hold(reservation_id)

    def of_booking(self, booking_id: str) -> list[Hold]:
        return [hold for hold in self.holds.values() if hold.booking_id == booking_id]

    def _hold(self, reservation_id: str) -> Hold:
        if reservation_id not in self.holds:
            raise Refused(404, "not_found", f"there is no reservation {reservation_id}")
        return self.holds[reservation_id]


#: Per venue type: price per person (or per night, for hotels), whether it is paid up front, and the
#: cancellation terms (free until some hours before the start, or 18:00 local the day before for
#: hotels; then a share of the total is kept).
PRICE_RULES = {
    "VENUE_TYPE_HOTEL": {"unit_price": 12000, "per": "night", "prepay": True, "fee_percent": 50},
    "VENUE_TYPE_RESTAURANT": {"unit_price": 2500, "per": "person", "prepay": False, "fee_percent": 0},
    "VENUE_TYPE_CAFE": {"unit_price": 800, "per": "person", "prepay": False, "fee_percent": 0},
    "VENUE_TYPE_RETAIL_EXPERIENCE": {"unit_price": 4500, "per": "person", "prepay": True, "fee_percent": 100},
}


def quote(venue_type: str, start: datetime, end: datetime, party: int, time_zone: str) -> dict[str, object]:
    rule = PRICE_RULES.get(venue_type)
    if rule is None:
        raise Refused(400, "invalid_venue_type", f"no prices for venue type {venue_type!r}")
    if rule["per"] == "night":
        nights = max(1, -(-int((end - start).total_seconds()) // 86400))
        total = int(rule["unit_price"]) * nights  # type: ignore[call-overload]
        local_day_before = start.astimezone(ZoneInfo(time_zone)).date() - timedelta(days=1)
        free_until = datetime.combine(local_day_before, time(18), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
    else:
        total = int(rule["unit_price"]) * party  # type: ignore[call-overload]
        free_until = start - timedelta(hours=24 if rule["prepay"] else 2)
    return {
        "quote_id": f"quote_{uuid.uuid4().hex[:16]}",
        "total": {"amount_minor": total, "currency": CURRENCY},
        "requires_prepayment": rule["prepay"],
        "cancellation_policy": {"free_until": free_until.isoformat(), "fee_percent": rule["fee_percent"]},
    }


@dataclass
class Intent:
    intent_id: str
    booking_id: str
    amount_minor: int
    currency: str
    status: str = "requires_confirmation"
    refunded_minor: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "intent_id": self.intent_id,
            "booking_id": self.booking_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "status": self.status,
            "refunded_minor": self.refunded_minor,
        }


@dataclass
class Payments:
    intents: dict[str, Intent] = field(default_factory=dict)
    refunds: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Confirmations to decline (tests and demos set it through the admin endpoint).
    decline_next: int = 0

    def create(self, booking_id: str, amount_minor: int, currency: str) -> Intent:
        if amount_minor < 0:
            raise Refused(400, "invalid_amount", "amount_minor must not be negative")
        intent = Intent(f"pi_{uuid.uuid4().hex[:16]}", booking_id, amount_minor, currency)
        self.intents[intent.intent_id] = intent
        return intent

    def confirm(self, intent_id: str) -> Intent:
        intent = self.get(intent_id)
        if intent.status == "canceled":
            raise Refused(409, "intent_canceled", f"intent {intent_id} was canceled")
        if intent.status == "requires_confirmation":
            if self.decline_next > 0:
                self.decline_next -= 1
                raise Refused(402, "card_declined", "the card was declined")
            intent.status = "succeeded"
        return intent

    def cancel(self, intent_id: str) -> Intent:
        intent = self.get(intent_id)
        if intent.status == "succeeded":
            raise Refused(409, "intent_captured", f"intent {intent_id} was captured; refund it instead")
        intent.status = "canceled"
        return intent

    def refund(
        self, intent_id: str, amount_minor: int, reason: str, metadata: dict[str, str] | None = None
    ) -> dict[str, object]:
        intent = self.get(intent_id)
        if intent.status != "succeeded":
            raise Refused(409, "intent_not_captured", f"intent {intent_id} has nothing captured to refund")
        if amount_minor < 0 or intent.refunded_minor + amount_minor > intent.amount_minor:
            raise Refused(400, "invalid_amount", "the refund exceeds what was captured")
        intent.refunded_minor += amount_minor
        refund = {
            "refund_id": f"re_{uuid.uuid4().hex[:16]}",
            "intent_id": intent_id,
            "amount_minor": amount_minor,
            "currency": intent.currency,
            "reason": reason,
            "metadata": metadata or {},
            "status": "succeeded",
        }
        self.refunds[str(refund["refund_id"])] = refund
        return refund

    def of_booking(self, booking_id: str) -> list[Intent]:
        return [intent for intent in self.intents.values() if intent.booking_id == booking_id]

    def refunds_of(self, intent_id: str) -> list[dict[str, object]]:
        self.get(intent_id)
        return [refund for refund in self.refunds.values() if refund["intent_id"] == intent_id]

    def get(self, intent_id: str) -> Intent:
        if intent_id not in self.intents:
            raise Refused(404, "not_found", f"there is no payment intent {intent_id}")
        return self.intents[intent_id]
