"""Field rules for requests: every violated field is reported at once, by its request path.

These checks need nothing but the request, the clock and the booking limits (limits.py: passed in,
never read here); rules that depend on the stored booking (an end before a kept start, say) are
checked by the aggregate with the same Violations collector.

The lengths below are fixed input formats (ids, names, free text), not booking rules: they are
documented on the proto fields and named with their value in every refusal.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

from booking_service.domain.commands import (
    BookingChanges,
    CancelBooking,
    ChangeBookingStatus,
    CreateBooking,
    UpdateBooking,
)
from booking_service.domain.errors import FieldViolation, ValidationFailed
from booking_service.domain.limits import BookingLimits, span

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_SPECIAL_REQUESTS_LENGTH = 2000
MAX_REASON_LENGTH = 500
MAX_IDEMPOTENCY_KEY_LENGTH = 255

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Violations:
    """Collects broken rules; raise_if_any() raises one ValidationFailed listing all of them."""

    def __init__(self, known: Iterable[FieldViolation] = ()) -> None:
        self.items: list[FieldViolation] = list(known)

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)

    def identifier(self, field: str, value: str, *, required: bool = True) -> None:
        if not value.strip():
            if required:
                self.add(field, "is required")
        elif len(value) > MAX_ID_LENGTH:
            self.add(field, f"must be at most {MAX_ID_LENGTH} characters")
        elif _CONTROL.search(value) or value != value.strip():
            self.add(field, "must not contain control characters or surrounding spaces")

    def text(self, field: str, value: str, limit: int, *, required: bool = False) -> None:
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > limit:
            self.add(field, f"must be at most {limit} characters")
        elif "\x00" in value:
            self.add(field, "must not contain NUL characters")

    def email(self, field: str, value: str) -> None:
        if value and (len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value) or "\x00" in value):
            self.add(field, "must be an email address such as guest@example.com")

    def phone(self, field: str, value: str) -> None:
        if value and not _E164.match(value):
            self.add(field, "must be a phone number in E.164 form such as +4915112345678")

    def party_size(self, field: str, value: int, limits: BookingLimits) -> None:
        """A number of people within the limits; the refusal names the limit and its source."""
        if value < limits.min_party_size:
            self.add(field, f"must be at least {limits.min_party_size} ({limits.source('min_party_size')})")
        elif value > limits.max_party_size:
            self.add(field, f"must be at most {limits.max_party_size} ({limits.source('max_party_size')})")

    def time_zone(self, field: str, value: str) -> None:
        """An IANA time zone, or "" (left out: the service chooses, service_layer/venue_zone.py)."""
        if value and not is_time_zone(value):
            self.add(field, f"must be an IANA time zone such as Europe/Paris, not {value!r}")

    def booking_id(self, field: str, value: str) -> None:
        if not value:
            self.add(field, "is required")
        elif not is_uuid(value):
            self.add(field, "must be a booking id (a UUID)")

    def expected_version(self, value: int) -> None:
        if value == 0:  # proto3's default: the field was left out
            self.add("expected_version", "is required: the version of the booking you last read")
        elif value < 0:
            self.add(
                "expected_version", "must be a version, 1 or more: the version of the booking you last read"
            )

    def idempotency_key(self, value: str) -> None:
        self.text("idempotency_key", value, MAX_IDEMPOTENCY_KEY_LENGTH)

    def new_slot(
        self,
        start: datetime | None,
        end: datetime | None,
        now: datetime,
        limits: BookingLimits,
        *,
        check_past: bool,
    ) -> None:
        """Rules for a wanted time window (UTC instants) within the limits; `check_past` (the
        minimum notice) is off when the start itself did not change."""
        if start is None:
            self.add("start_time", "is required")
        elif check_past and start < now + limits.min_notice:
            self.add("start_time", _notice(limits))
        elif start > now + limits.max_advance:
            self.add(
                "start_time",
                f"must be at most {span(limits.max_advance)} from now ({limits.source('max_advance')})",
            )
        if end is None:
            self.add("end_time", "is required")
        elif start is not None and end <= start:
            self.add("end_time", "must be after start_time")
        elif start is not None and end - start < limits.min_duration:
            self.add(
                "end_time",
                f"must be at least {span(limits.min_duration)} after start_time "
                f"({limits.source('min_duration')})",
            )
        elif start is not None and end - start > limits.max_duration:
            self.add(
                "end_time",
                f"must be at most {span(limits.max_duration)} after start_time "
                f"({limits.source('max_duration')})",
            )


def _notice(limits: BookingLimits) -> str:
    """The refusal of a start too soon (or too far in the past), naming the minimum notice."""
    source = limits.source("min_notice")
    if limits.min_notice < timedelta(0):
        return f"must not be more than {span(-limits.min_notice)} in the past ({source})"
    if limits.min_notice == timedelta(0):
        return f"must not be in the past ({source})"
    return f"must be at least {span(limits.min_notice)} from now ({source})"


#: Names a tz database may hold that are no IANA zone: the host's own clock (whatever the machine is
#: set to), a placeholder, and a file of the database's build. available_timezones() already leaves
#: out the posix/ and right/ copies (right/ zones count leap seconds, so their clocks are off).
_NOT_IANA = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_IANA


def is_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone (`Europe/Paris`, `UTC`) of the database this machine has
    (the tzdata package at least): the one rule of `venue.time_zone` and DEFAULT_VENUE_TIME_ZONE."""
    return name in _iana_zones()


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(value: str) -> bool:
    """Whether value is a UUID in its one canonical text form (RFC 9562 section 4: 8-4-4-4-12 hex digits).

    Only that form, letters in either case: Python's `uuid.UUID` also takes braces, `urn:uuid:`, missing
    or extra hyphens, underscores and surrounding blanks, and PostgreSQL and asyncpg each take a
    different subset of those, so anything wider lets an id pass here and fail in the database.
    """
    return _UUID.fullmatch(value) is not None


def canonical_id(value: str) -> str:
    """A booking id as this service writes it (lower case, RFC 9562: read in either case), so that
    two spellings of one id are one request to the idempotency check; anything else as given, for
    the validation to refuse."""
    return value.lower() if is_uuid(value) else value


def validate_create(cmd: CreateBooking, now: datetime, limits: BookingLimits) -> None:
    """Raises ValidationFailed listing every field of `cmd` that breaks a rule or a limit."""
    v = Violations(cmd.unreadable)
    v.identifier("guest.guest_id", cmd.guest.guest_id)
    v.text("guest.name", cmd.guest.name, MAX_NAME_LENGTH, required=True)
    v.email("guest.email", cmd.guest.email)
    v.phone("guest.phone", cmd.guest.phone)
    v.identifier("venue.venue_id", cmd.venue.venue_id)
    if cmd.venue.venue_type is None:
        v.add("venue.venue_type", "is required: HOTEL, RESTAURANT, CAFE or RETAIL_EXPERIENCE")
    v.text("venue.name", cmd.venue.name, MAX_NAME_LENGTH)
    v.time_zone("venue.time_zone", cmd.venue.time_zone)
    v.identifier("unit_id", cmd.unit_id, required=False)
    v.new_slot(cmd.start_time, cmd.end_time, now, limits, check_past=True)
    v.party_size("party_size", cmd.party_size, limits)
    v.text("special_requests", cmd.special_requests, MAX_SPECIAL_REQUESTS_LENGTH)
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()


def check_changes(
    v: Violations, changes: BookingChanges, limits: BookingLimits, changed: Collection[str] | None = None
) -> None:
    """The rules each changed field must meet on its own. `changed`: the fields whose values differ
    from the stored booking's, once it is known (Booking.update). A limit binds a value being set,
    not one sent again as it is stored: a whole-object PUT that repeats a party size made under a
    wider BOOKING_MAX_PARTY_SIZE is no change of it (the time limits follow the same rule in
    Booking.update)."""
    if changes.guest_name is not None:
        v.text("guest.name", changes.guest_name, MAX_NAME_LENGTH, required=True)
    if changes.guest_email is not None:
        v.email("guest.email", changes.guest_email)
    if changes.guest_phone is not None:
        v.phone("guest.phone", changes.guest_phone)
    if changes.unit_id is not None:
        v.identifier("unit_id", changes.unit_id, required=False)
    if changes.party_size is not None and (changed is None or "party_size" in changed):
        v.party_size("party_size", changes.party_size, limits)
    if changes.special_requests is not None:
        v.text("special_requests", changes.special_requests, MAX_SPECIAL_REQUESTS_LENGTH)


def validate_update(cmd: UpdateBooking) -> None:
    """Raises ValidationFailed listing every field of `cmd` that breaks a rule on its own; the
    limits are the booking's (its frozen rules), checked by the aggregate against the stored
    booking (Booking.update)."""
    v = Violations(cmd.unreadable)
    v.booking_id("booking_id", cmd.booking_id)
    v.expected_version(cmd.expected_version)
    check_changes(v, cmd.changes, BookingLimits(), changed=())  # no limit binds here (changed=())
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()


def validate_cancel(cmd: CancelBooking) -> None:
    v = Violations(cmd.unreadable)
    v.booking_id("booking_id", cmd.booking_id)
    v.expected_version(cmd.expected_version)
    v.text("reason", cmd.reason, MAX_REASON_LENGTH)
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()


def validate_status_change(cmd: ChangeBookingStatus) -> None:
    v = Violations(cmd.unreadable)
    v.booking_id("booking_id", cmd.booking_id)
    v.expected_version(cmd.expected_version)
    if cmd.status is None:
        v.add("status", "is required: the status to move to, such as BOOKING_STATUS_CONFIRMED")
    v.text("reason", cmd.reason, MAX_REASON_LENGTH)
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()
