"""Checking availability: this service's own conflicts on a unit, plus any capacity sources.

The inventory service's capacity answer plugs in as a CapacitySource (the coordination of peers
adds it); each source's answer is reported, so a caller sees which one said no.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from booking_service.domain.errors import FieldViolation
from booking_service.domain.model import Booking
from booking_service.domain.validation import Violations
from booking_service.domain.values import TimeSlot
from booking_service.service_layer.policy import Clock
from booking_service.service_layer.unit_of_work import UnitOfWork

BOOKINGS = "BOOKINGS"


@dataclass(frozen=True, slots=True)
class CheckAvailability:
    venue_id: str
    unit_id: str
    start_time: datetime | None
    end_time: datetime | None
    party_size: int
    exclude_booking_id: str = ""
    unreadable: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceAnswer:
    source: str
    available: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    conflicts: list[Booking] = field(default_factory=list)
    checks: list[SourceAnswer] = field(default_factory=list)


class CapacitySource(Protocol):
    async def check(self, query: CheckAvailability) -> SourceAnswer: ...


async def check_availability(
    query: CheckAvailability, *, uow: UnitOfWork, clock: Clock, sources: Sequence[CapacitySource] = ()
) -> Availability:
    now = clock()
    v = Violations(query.unreadable)
    v.identifier("venue_id", query.venue_id)
    v.identifier("unit_id", query.unit_id, required=False)
    v.new_slot(query.start_time, query.end_time, now, check_past=True)
    v.party_size("party_size", query.party_size)
    if query.exclude_booking_id:
        v.booking_id("exclude_booking_id", query.exclude_booking_id)
    v.raise_if_any()
    assert query.start_time is not None and query.end_time is not None
    conflicts: list[Booking] = []
    if query.unit_id:
        async with uow:
            holders = await uow.bookings.overlapping(
                query.venue_id,
                query.unit_id,
                TimeSlot(query.start_time, query.end_time),
                query.exclude_booking_id or None,
            )
        # An overdue PENDING booking does not block: a new booking would expire it first.
        conflicts = [b for b in holders if not b.is_overdue(now)]
    local = SourceAnswer(
        BOOKINGS,
        not conflicts,
        f"unit {query.unit_id} is held by {len(conflicts)} overlapping booking(s)" if conflicts else "",
    )
    checks = [local, *[await source.check(query) for source in sources]]
    return Availability(all(c.available for c in checks), conflicts, checks)
