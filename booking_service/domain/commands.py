"""Commands: what a caller asks the service to do, as plain immutable data.

Fields a caller may leave out are Optional; the use cases validate them (domain/validation.py), so a
command can be built from any request without failing half-way, and every violated field is
reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from booking_service.domain.errors import FieldViolation
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, Guest, VenueType


@dataclass(frozen=True, slots=True)
class VenueDetails:
    """The venue as a caller describes it; `venue_type` is None when missing or unknown, `time_zone`
    "" when left out (the service then chooses it: service_layer/venue_zone.py)."""

    venue_id: str
    venue_type: VenueType | None
    name: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class Command:
    actor: Actor
    #: What the transport could not even read (a malformed timestamp, say), reported together with
    #: the use case's own violations.
    unreadable: tuple[FieldViolation, ...] = field(default=(), kw_only=True)
    #: Whose idempotency keys the request's key is one of: the authenticated caller (a token's
    #: subject, a client certificate's name); "" in an open service, where every caller is one.
    caller: str = field(default="", kw_only=True)


@dataclass(frozen=True, slots=True)
class CreateBooking(Command):
    guest: Guest
    venue: VenueDetails
    unit_id: str
    start_time: datetime | None
    end_time: datetime | None
    party_size: int
    special_requests: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class BookingChanges:
    """The details to change; None leaves a field as it is, "" clears an optional text field.
    `guest_id`, when given, must be the booking's own: a booking never moves to another guest."""

    guest_id: str | None = None
    guest_name: str | None = None
    guest_email: str | None = None
    guest_phone: str | None = None
    unit_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    party_size: int | None = None
    special_requests: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateBooking(Command):
    booking_id: str
    expected_version: int
    changes: BookingChanges
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class CancelBooking(Command):
    booking_id: str
    expected_version: int
    reason: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class ChangeBookingStatus(Command):
    booking_id: str
    expected_version: int
    status: BookingStatus | None
    reason: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class UpdateVenuePolicy(Command):
    """Set each field in `paths` (domain/venue_policy.POLICY_FIELDS) to its value in `values`, or
    back to its setting when `values` has none."""

    venue_id: str
    expected_version: int
    values: Mapping[str, timedelta | int | str]
    paths: tuple[str, ...]
