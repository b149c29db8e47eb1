"""The read side: a booking as callers read it, outside any unit of work (cosmicpython's views).

A read changes nothing and needs no transaction: the booking and its history, or a page of
bookings, come back from one statement, which sees one snapshot. Writes still load bookings
through the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from booking_service.domain.model import Booking, HistoryEntry
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import TimeSlot
from booking_service.domain.venue_policy import VenuePolicy


@dataclass(frozen=True, slots=True)
class BookingQuery:
    """A page of bookings of one guest or one venue, in (start time, id) order after `after`."""

    owner: str  # "guest" or "venue"
    owner_id: str
    statuses: frozenset[BookingStatus]
    window: tuple[datetime | None, datetime | None]
    local_date: date | None
    after: tuple[datetime, str] | None
    limit: int
    #: Whether each booking comes with its history (a list's FULL view) or without (BASIC).
    with_history: bool = True


@dataclass(frozen=True, slots=True)
class UnitHold:
    """An active booking as the slot search weighs it (`BookingReads.unit_holds`): which unit it
    holds over what time, and whether it still counts; none of the rest of the booking."""

    booking_id: str
    unit_id: str | None
    #: Its slot widened by its frozen buffers (Booking.blocked).
    blocked: TimeSlot
    #: Its deadline while it is PENDING, else None.
    pending_until: datetime | None
    inventory_reservation_id: str

    def is_overdue(self, now: datetime) -> bool:
        """A PENDING booking past its deadline (Booking.is_overdue)."""
        return self.pending_until is not None and now >= self.pending_until


class BookingReads(Protocol):
    async def get(self, booking_id: str) -> Booking | None:
        """The booking with its full history, or None."""

    async def get_by_reference(self, reference: str) -> Booking | None:
        """The booking with its full history, by its canonical reference, or None."""

    async def page(self, query: BookingQuery) -> list[Booking]:
        """A page of bookings, each with its full history unless the query says without, in
        (start time, id) order."""

    async def history(self, booking_id: str, version: int) -> list[HistoryEntry]:
        """The booking's history up to `version` (versions 1 to `version`), oldest first: what it was
        when it reached that version (history rows are written once and never change)."""

    async def overlapping(self, venue_id: str, slot: TimeSlot) -> list[Booking]:
        """Active bookings at the venue, of any unit, whose blocked time (their slot widened by
        their frozen buffers) overlaps the slot (without their histories), in (start time, id) order."""

    async def unit_holds(
        self, venue_id: str, slot: TimeSlot, units: Sequence[str], now: datetime
    ) -> list[UnitHold]:
        """Of the bookings `overlapping` answers, in the same order, those the slot search needs:
        those that hold one of `units`, and those overdue at `now` (their reservations are left out
        of its inventory checks) whatever their unit; as UnitHolds (a few columns, no booking
        built)."""

    async def venue_policy(self, venue_id: str, *, with_history: bool = False) -> VenuePolicy:
        """The venue's stored policy (with its history when asked), or its empty one (version 0)."""

    async def recorded_time_zone(self, venue_id: str) -> str | None:
        """The IANA time zone of the venue's most recently created booking (latest `create_time`,
        then highest id; whatever its status), or None when the venue has no booking."""

    async def venue_policy_and_zone(self, venue_id: str) -> tuple[VenuePolicy, str | None]:
        """`venue_policy` (without its history) and `recorded_time_zone`, from one statement."""
