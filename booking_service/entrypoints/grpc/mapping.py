"""Protobuf messages ↔ domain commands, queries and bookings.

Requests are mapped leniently (an unknown enum becomes None), and what cannot be represented at all
(a malformed timestamp, an unknown field in update_mask) travels in the command's `unreadable`, so
the use case reports every violated field at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from booking.v1 import booking_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2

from booking_service.adapters.booking_proto import (
    STATUS_FROM_PB,
    STATUS_TO_PB,
    VENUE_FROM_PB,
    booking_message,
    money_message,
    stamp,
)
from booking_service.domain.commands import (
    BookingChanges,
    CancelBooking,
    ChangeBookingStatus,
    CreateBooking,
    UpdateBooking,
    VenueDetails,
)
from booking_service.domain.errors import MAX_VIOLATIONS
from booking_service.domain.validation import Violations, canonical_id
from booking_service.domain.values import Actor, Guest
from booking_service.service_layer.availability import Availability, CheckAvailability, Conflict
from booking_service.service_layer.queries import BookingPage, ListBookings

_AVAILABILITY_SOURCE = {
    "BOOKINGS": pb.AVAILABILITY_SOURCE_BOOKINGS,
    "INVENTORY": pb.AVAILABILITY_SOURCE_INVENTORY,
}

#: update_mask paths and the BookingChanges field each sets.
_MASK_FIELDS = {
    "guest.name": "guest_name",
    "guest.email": "guest_email",
    "guest.phone": "guest_phone",
    "unit_id": "unit_id",
    "start_time": "start_time",
    "end_time": "end_time",
    "party_size": "party_size",
    "special_requests": "special_requests",
}


# --- requests -> domain ---------------------------------------------------------------------------


def guest_of(guest: pb.Guest) -> Guest:
    """The guest a create names (of a booking, of a group), as sent."""
    return Guest(guest.guest_id, guest.name, guest.email, guest.phone)


def venue_details_of(venue: pb.Venue) -> VenueDetails:
    """The venue a create names, as sent: its type None when unknown, its zone "" when left out."""
    return VenueDetails(venue.venue_id, VENUE_FROM_PB.get(venue.venue_type), venue.name, venue.time_zone)


def create_command(request: pb.CreateBookingRequest, actor: Actor, caller: str = "") -> CreateBooking:
    v = Violations()
    return CreateBooking(
        actor=actor,
        caller=caller,
        guest=guest_of(request.guest),
        venue=venue_details_of(request.venue),
        unit_id=request.unit_id,
        start_time=read_time(v, request, "start_time"),
        end_time=read_time(v, request, "end_time"),
        party_size=request.party_size,
        special_requests=request.special_requests,
        idempotency_key=request.idempotency_key,
        unreadable=tuple(v.items),  # last: the arguments above have added theirs
    )


def update_command(request: pb.UpdateBookingRequest, actor: Actor, caller: str = "") -> UpdateBooking:
    v = Violations()
    values: dict[str, object] = {
        "guest_name": request.guest.name,
        "guest_email": request.guest.email,
        "guest_phone": request.guest.phone,
        "unit_id": request.unit_id,
        "start_time": read_time(v, request, "start_time"),
        "end_time": read_time(v, request, "end_time"),
        "party_size": request.party_size,
        "special_requests": request.special_requests,
    }
    if request.HasField("update_mask") and request.update_mask.paths:
        chosen: set[str] = set()
        unknown = 0
        for path in dict.fromkeys(request.update_mask.paths):  # each path once, however often given
            if path == "guest":
                chosen |= {"guest_name", "guest_email", "guest_phone"}
            elif path in _MASK_FIELDS:
                chosen.add(_MASK_FIELDS[path])
            elif (unknown := unknown + 1) < MAX_VIOLATIONS:  # the refusal lists no more anyway
                shown = repr(path[:40] + "..." if len(path) > 40 else path)
                updatable = ", ".join(_MASK_FIELDS)
                v.add("update_mask", f"{shown} cannot be updated; updatable: guest, {updatable}")
        if unknown >= MAX_VIOLATIONS:
            v.add("update_mask", f"and {unknown - MAX_VIOLATIONS + 1} more paths that cannot be updated")
    else:
        chosen = {
            name
            for name in ("unit_id", "start_time", "end_time", "party_size", "special_requests")
            if request.HasField(name)
        }
        if request.HasField("guest"):
            chosen |= {f"guest_{part}" for part in ("name", "email", "phone") if getattr(request.guest, part)}
    changes = BookingChanges(
        guest_id=request.guest.guest_id or None,
        **{name: value for name, value in values.items() if name in chosen},  # type: ignore[arg-type]
    )
    return UpdateBooking(
        actor=actor,
        caller=caller,
        booking_id=canonical_id(request.booking_id),
        expected_version=request.expected_version,
        changes=changes,
        idempotency_key=request.idempotency_key,
        unreadable=tuple(v.items),
    )


def cancel_command(request: pb.CancelBookingRequest, actor: Actor, caller: str = "") -> CancelBooking:
    return CancelBooking(
        actor=actor,
        caller=caller,
        booking_id=canonical_id(request.booking_id),
        expected_version=request.expected_version,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
    )


def status_command(
    request: pb.UpdateBookingStatusRequest, actor: Actor, caller: str = ""
) -> ChangeBookingStatus:
    return ChangeBookingStatus(
        actor=actor,
        caller=caller,
        booking_id=canonical_id(request.booking_id),
        expected_version=request.expected_version,
        status=STATUS_FROM_PB.get(request.status),
        reason=request.reason,
        idempotency_key=request.idempotency_key,
    )


def list_query(
    owner: str, owner_id: str, request: pb.ListGuestBookingsRequest | pb.ListVenueBookingsRequest
) -> ListBookings:
    v = Violations()
    filters = request.filters
    window = filters.time_range
    return ListBookings(
        owner=owner,
        owner_id=owner_id,
        page_size=request.page_size,
        page_token=request.page_token,
        statuses=tuple(STATUS_FROM_PB.get(s) for s in filters.statuses),
        window_start=read_time(v, window, "start_time", "filters.time_range.start_time"),
        window_end=read_time(v, window, "end_time", "filters.time_range.end_time"),
        local_date=_date(v, filters, "local_date", "filters.local_date"),
        with_history=_full_view(v, request.view),
        unreadable=tuple(v.items),  # last: the arguments above have added theirs
    )


def _full_view(v: Violations, view: int) -> bool:
    """Whether a list answers FULL bookings (the default) or BASIC ones (without their history)."""
    if view not in (pb.BOOKING_VIEW_UNSPECIFIED, pb.BOOKING_VIEW_BASIC, pb.BOOKING_VIEW_FULL):
        v.add("view", "must be BOOKING_VIEW_BASIC or BOOKING_VIEW_FULL (the default)")
    return view != pb.BOOKING_VIEW_BASIC


def availability_query(request: pb.CheckAvailabilityRequest) -> CheckAvailability:
    v = Violations()
    return CheckAvailability(
        venue_id=request.venue_id,
        unit_id=request.unit_id,
        start_time=read_time(v, request, "start_time"),
        end_time=read_time(v, request, "end_time"),
        party_size=request.party_size,
        exclude_booking_id=canonical_id(request.exclude_booking_id),
        venue_type=VENUE_FROM_PB.get(request.venue_type),
        include_price_estimate=request.include_price_estimate,
        unreadable=tuple(v.items),  # last: the arguments above have added theirs
    )


def read_time(v: Violations, message: object, name: str, path: str | None = None) -> datetime | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, name)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        v.add(path or name, "is not a valid timestamp")
        return None


def _date(v: Violations, message: object, name: str, path: str) -> date | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    value: date_pb2.Date = getattr(message, name)
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        v.add(path, "is not a valid calendar date (year, month and day are all required)")
        return None


# --- domain -> responses --------------------------------------------------------------------------


def booking_messages(page: BookingPage) -> list[pb.Booking]:
    return [booking_message(b) for b in page.bookings]


def conflict_message(conflict: Conflict) -> pb.ConflictingBooking:
    """Which booking is in the way and when; its guest stays out of the answer."""
    return pb.ConflictingBooking(
        booking_id=conflict.booking_id,
        booking_reference=conflict.booking_reference,
        status=STATUS_TO_PB[conflict.status],
        unit_id=conflict.unit_id,
        start_time=stamp(conflict.slot.start),
        end_time=stamp(conflict.slot.end),
    )


def availability_message(result: Availability) -> pb.CheckAvailabilityResponse:
    message = pb.CheckAvailabilityResponse(
        available=result.available,
        conflicts=[conflict_message(c) for c in result.conflicts],
        checks=[
            pb.AvailabilityCheck(
                source=_AVAILABILITY_SOURCE.get(c.source, pb.AVAILABILITY_SOURCE_UNSPECIFIED),
                available=c.available,
                reason=c.reason,
            )
            for c in result.checks
        ],
    )
    if result.price_estimate is not None:
        message.price_estimate.CopyFrom(money_message(result.price_estimate))
    return message
