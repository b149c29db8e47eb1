"""Reading bookings: by id, by reference, and page by page for a guest or a venue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from booking_service.domain.errors import BookingNotFound, FieldViolation, ValidationFailed
from booking_service.domain.model import Booking
from booking_service.domain.reference import normalize_reference
from booking_service.domain.status import BookingStatus
from booking_service.domain.validation import Violations
from booking_service.service_layer.page_tokens import PageTokens
from booking_service.service_layer.reads import BookingQuery, BookingReads

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ListBookings:
    owner: str  # "guest" or "venue"
    owner_id: str
    page_size: int = 0
    page_token: str = ""
    #: Unknown statuses arrive as None and are refused.
    statuses: tuple[BookingStatus | None, ...] = ()
    window_start: datetime | None = None
    window_end: datetime | None = None
    local_date: date | None = None
    unreadable: tuple[FieldViolation, ...] = ()

    def filters(self) -> str:
        """Everything but the page: a token is only good for the same filters."""
        return json.dumps(
            [
                self.owner,
                self.owner_id,
                sorted(s.value for s in self.statuses if s is not None),
                self.window_start.isoformat() if self.window_start else None,
                self.window_end.isoformat() if self.window_end else None,
                self.local_date.isoformat() if self.local_date else None,
            ]
        )


@dataclass(frozen=True, slots=True)
class BookingPage:
    bookings: list[Booking]
    next_page_token: str


async def get_booking(booking_id: str, *, reads: BookingReads) -> Booking:
    v = Violations()
    v.booking_id("booking_id", booking_id)
    v.raise_if_any()
    booking = await reads.get(booking_id)
    if booking is None:
        raise BookingNotFound(f"There is no booking {booking_id}.", {"booking_id": booking_id})
    return booking


async def get_booking_by_reference(reference: str, *, reads: BookingReads) -> Booking:
    canonical = normalize_reference(reference)
    if canonical is None:
        problem = "is required" if not reference else "is not a booking reference such as BK-7KQ2M9XD"
        raise ValidationFailed([FieldViolation("booking_reference", problem)])
    booking = await reads.get_by_reference(canonical)
    if booking is None:
        raise BookingNotFound(f"There is no booking {canonical}.", {"booking_reference": canonical})
    return booking


async def list_bookings(query: ListBookings, *, reads: BookingReads, page_tokens: PageTokens) -> BookingPage:
    field = f"{query.owner}_id"
    v = Violations(query.unreadable)
    v.identifier(field, query.owner_id)
    if query.page_size < 0:
        v.add("page_size", "must not be negative")
    if any(s is None for s in query.statuses):
        v.add("filters.statuses", "contains an unknown status")
    if query.window_start and query.window_end and query.window_end <= query.window_start:
        v.add("filters.time_range.end_time", "must be after filters.time_range.start_time")
    v.raise_if_any()
    limit = min(query.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    after = page_tokens.read(query.page_token, query.filters()) if query.page_token else None
    rows = await reads.page(
        BookingQuery(
            owner=query.owner,
            owner_id=query.owner_id,
            statuses=frozenset(s for s in query.statuses if s is not None),
            window=(query.window_start, query.window_end),
            local_date=query.local_date,
            after=after,
            limit=limit + 1,
        )
    )
    page, more = rows[:limit], len(rows) > limit
    token = page_tokens.issue(query.filters(), page[-1].slot.start, page[-1].booking_id) if more else ""
    return BookingPage(page, token)
