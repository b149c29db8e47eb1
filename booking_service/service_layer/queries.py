"""Reading bookings: by id, by reference, and page by page for a guest or a venue.

Every answer that carries a booking carries it the same way: with its whole history up to the
version it shows (`with_history`), whether it answers a read, a change or a replayed request.

A read shows a booking as it is now. An overdue PENDING booking (past its expire_time, not yet
swept) is settled before it is shown, by the same saga a change or a new booking for its unit
would run (sagas/settle.py: EXPIRED, or CONFIRMED if its payment got through at the deadline),
so that the answer's status, version, ETag and history are ones the database holds, the expiry
is an event like any other, and a change sent with the version read meets the booking as read.
A booking that cannot be settled right now is shown as stored (PENDING, its expire_time past):
while a saga holds it (a confirmation at the deadline), while an operator must settle it, or
while the payment service cannot say whether it was paid (the recovery worker settles it then).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from booking_service.domain.errors import BookingNotFound, FieldViolation, PeerUnavailable, ValidationFailed
from booking_service.domain.model import Booking
from booking_service.domain.reference import normalize_reference
from booking_service.domain.status import BookingStatus
from booking_service.domain.validation import Violations
from booking_service.service_layer.context import Context
from booking_service.service_layer.page_tokens import PageTokens
from booking_service.service_layer.reads import BookingQuery, BookingReads
from booking_service.service_layer.sagas.log import SagaTakenOver
from booking_service.service_layer.sagas.settle import settle_overdue, settles

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
    #: FULL (each booking with its history, the default) or BASIC (without): AIP-157's view.
    with_history: bool = True
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


async def with_history(booking: Booking, *, reads: BookingReads) -> Booking:
    """The booking as every answer carries it: with its history, versions 1 to its version (read
    when the booking was loaded without it, as a change loads it or a replay restores it)."""
    if len(booking.history) != booking.version:
        booking.history = await reads.history(booking.booking_id, booking.version)
    return booking


async def get_booking(booking_id: str, *, ctx: Context) -> Booking:
    """The booking with its history, an overdue PENDING one settled first; raises ValidationFailed
    (not a UUID) or BookingNotFound."""
    v = Violations()
    v.booking_id("booking_id", booking_id)
    v.raise_if_any()
    booking = await ctx.reads.get(booking_id)
    if booking is not None and await settle_if_overdue(ctx, [booking]):
        booking = await ctx.reads.get(booking_id)
    if booking is None:
        raise BookingNotFound(f"There is no booking {booking_id}.", {"booking_id": booking_id})
    return booking


async def get_booking_by_reference(reference: str, *, ctx: Context) -> Booking:
    """The booking with its history, by its reference (case and dashes do not matter), an overdue
    PENDING one settled first; raises ValidationFailed or BookingNotFound."""
    canonical = normalize_reference(reference)
    if canonical is None:
        problem = "is required" if not reference else "is not a booking reference such as BK-7KQ2M9XD"
        raise ValidationFailed([FieldViolation("booking_reference", problem)])
    booking = await ctx.reads.get_by_reference(canonical)
    if booking is not None and await settle_if_overdue(ctx, [booking]):
        booking = await ctx.reads.get_by_reference(canonical)
    if booking is None:
        raise BookingNotFound(f"There is no booking {canonical}.", {"booking_reference": canonical})
    return booking


async def settle_if_overdue(ctx: Context, bookings: list[Booking]) -> bool:
    """Settles the overdue PENDING bookings among `bookings` (one after another: normally there are
    none, the sweeper settles them within SWEEP_INTERVAL_SECONDS); True if there were any, and the
    bookings must be read again. One that cannot be settled now stays as stored (module docstring)."""
    now = ctx.clock()
    overdue = [booking.booking_id for booking in bookings if settles(booking, now)]
    for booking_id in overdue:
        try:
            await settle_overdue(ctx, booking_id)
        except (PeerUnavailable, SagaTakenOver):
            continue  # the recovery worker settles it; shown as stored meanwhile
    return bool(overdue)


async def list_bookings(query: ListBookings, *, ctx: Context, page_tokens: PageTokens) -> BookingPage:
    """A page of bookings with their histories, overdue PENDING ones settled first; raises
    ValidationFailed or InvalidPageToken."""
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
    wanted = BookingQuery(
        owner=query.owner,
        owner_id=query.owner_id,
        statuses=frozenset(s for s in query.statuses if s is not None),
        window=(query.window_start, query.window_end),
        local_date=query.local_date,
        after=after,
        limit=limit + 1,
        with_history=query.with_history,
    )
    rows = await ctx.reads.page(wanted)
    if await settle_if_overdue(ctx, rows[:limit]):
        rows = await ctx.reads.page(wanted)  # a settled booking may have left the statuses asked for
    page, more = rows[:limit], len(rows) > limit
    token = page_tokens.issue(query.filters(), page[-1].slot.start, page[-1].booking_id) if more else ""
    return BookingPage(page, token)
