"""Checking availability: this service's own conflicts on a unit, and the inventory service's capacity.

Each source's answer is reported, so a caller sees which one said no; an overdue PENDING booking does
not count as a conflict (a new booking would settle it first). A price estimate from the pricing
service is added when asked for. The peers are asked with the venue's time zone by the one rule
for it (service_layer/venue_zone.py). The venue's rules (venue_rules.rules_for) judge the slot, and
a booking conflicts when its blocked time (slot and frozen buffers) meets the slot widened by the
venue's buffers, as the database's exclusion constraint would decide; the reason names each one by
its times and, when only buffers put it in the way, each such buffer with its value and source
(domain/unit_conflicts.py). `explained` words the exclusion constraint's refusal the same way.

A conflict is named by id, reference, status, unit and times only (`Conflict`), never by its guest:
whoever may ask about availability may not have made the booking in the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from booking_service.domain.errors import FieldViolation, PeerUnavailable, UnitUnavailable
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.unit_conflicts import unit_held, why_blocked
from booking_service.domain.validation import Violations
from booking_service.domain.values import Money, TimeSlot, VenueType
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay
from booking_service.service_layer.venue_rules import rules_for
from booking_service.service_layer.venue_zone import venue_time_zone

BOOKINGS, INVENTORY = "BOOKINGS", "INVENTORY"


@dataclass(frozen=True, slots=True)
class CheckAvailability:
    venue_id: str
    unit_id: str
    start_time: datetime | None
    end_time: datetime | None
    party_size: int
    exclude_booking_id: str = ""
    venue_type: VenueType | None = None
    include_price_estimate: bool = False
    unreadable: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceAnswer:
    source: str
    available: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A booking in the way: which one and when, nothing about whose it is."""

    booking_id: str
    booking_reference: str
    status: BookingStatus
    unit_id: str
    slot: TimeSlot

    @classmethod
    def of(cls, booking: Booking) -> Conflict:
        return cls(booking.booking_id, booking.reference, booking.status, booking.unit_id or "", booking.slot)


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    conflicts: list[Conflict] = field(default_factory=list)
    checks: list[SourceAnswer] = field(default_factory=list)
    price_estimate: Money | None = None


class Holding(Protocol):
    """An active booking as holds_that_count weighs it: a Booking, or the slot search's UnitHold."""

    @property
    def booking_id(self) -> str: ...
    @property
    def inventory_reservation_id(self) -> str: ...
    def is_overdue(self, now: datetime) -> bool: ...


H = TypeVar("H", bound=Holding)


def holds_that_count(
    at_venue: list[H], now: datetime, exclude_booking_id: str = ""
) -> tuple[list[H], list[str]]:
    """Splits a venue's active bookings into those that hold their unit against a new booking at
    `now`, and the inventory reservation ids of those that do not (to leave out of the inventory's
    count): the booking being rescheduled, and overdue PENDING bookings (a new booking would settle
    them first)."""
    counted: list[H] = []
    not_counted: list[str] = []
    for b in at_venue:
        if b.is_overdue(now) or b.booking_id == exclude_booking_id:
            if b.inventory_reservation_id:
                not_counted.append(b.inventory_reservation_id)
        else:
            counted.append(b)
    return counted, not_counted


def _held_by(unit_id: str, slot: TimeSlot, limits: BookingLimits, conflicts: list[Booking]) -> str:
    """CheckAvailability's reason: each booking in the way, by its times, and the buffers that put
    it in the way when only they do, with their values and sources (unit_conflicts.why_blocked)."""
    if not conflicts:
        return ""
    whys = "; ".join(why_blocked(slot, limits, b.slot, b.rules) for b in conflicts)
    return f"unit {unit_id} is held by {len(conflicts)} overlapping booking(s): {whys}"


async def explained(
    ctx: Context, refused: UnitUnavailable, stay: Stay, limits: BookingLimits, exclude_booking_id: str
) -> UnitUnavailable:
    """The exclusion constraint's refusal of `stay` (which does not say which booking is in the
    way), worded with the booking in the way when one can be read now; else as it was."""
    if stay.unit_id is None or "held_start_time" in refused.metadata or "source" in refused.metadata:
        return refused
    at_venue = await ctx.reads.overlapping(stay.venue_id, limits.blocked(stay.slot))
    counted, _ = holds_that_count(at_venue, ctx.clock(), exclude_booking_id)
    holder = next((b for b in counted if b.unit_id == stay.unit_id), None)
    if holder is None:
        return refused
    return unit_held(stay.venue_id, stay.unit_id, stay.slot, limits, holder.slot, holder.rules)


async def check_availability(query: CheckAvailability, *, ctx: Context) -> Availability:
    now = ctx.clock()
    v = Violations(query.unreadable)
    v.identifier("venue_id", query.venue_id)
    v.identifier("unit_id", query.unit_id, required=False)
    rules = await rules_for(ctx, query.venue_id)
    limits = rules.limits
    v.new_slot(query.start_time, query.end_time, now, limits, check_past=True)
    v.party_size("party_size", query.party_size, limits)
    if query.exclude_booking_id:
        v.booking_id("exclude_booking_id", query.exclude_booking_id)
    if query.include_price_estimate and query.venue_type is None:
        v.add("venue_type", "is required for a price estimate")
    v.raise_if_any()
    assert query.start_time is not None and query.end_time is not None
    slot = TimeSlot(query.start_time, query.end_time)
    # One read of the venue's active bookings whose blocked time (with their frozen buffers)
    # overlaps the slot with the venue's buffers now.
    counted, not_counted = holds_that_count(
        await ctx.reads.overlapping(query.venue_id, limits.blocked(slot)), now, query.exclude_booking_id
    )
    conflicts = [b for b in counted if query.unit_id and b.unit_id == query.unit_id]
    checks = [SourceAnswer(BOOKINGS, not conflicts, _held_by(query.unit_id, slot, limits, conflicts))]
    zone = await venue_time_zone(query.venue_id, "", ctx=ctx, rules=rules)
    stay = Stay(query.venue_id, query.venue_type, query.unit_id or None, slot, query.party_size, zone)
    try:
        capacity = await ctx.peers.inventory.check(stay, not_counted)
        checks.append(SourceAnswer(INVENTORY, capacity.available, capacity.reason))
    except PeerUnavailable as error:
        checks.append(SourceAnswer(INVENTORY, False, f"unknown: {error.message}"))
    estimate = None
    if query.include_price_estimate:
        try:
            estimate = await ctx.peers.pricing.estimate(stay)
        except PeerUnavailable:
            estimate = None
    return Availability(
        all(c.available for c in checks), [Conflict.of(b) for b in conflicts], checks, estimate
    )
