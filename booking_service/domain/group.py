"""Booking groups: one guest's bookings at one venue, made together, all or nothing.

Each item is a Booking of its own (its price, frozen cancellation policy, lifecycle and history)
that carries the group's id. The group keeps what the items share: the reference, the guest and
venue, the one payment intent for the total when the venue is paid up front, and a version for
the changes made to the group as a whole (a cancellation). Creating and cancelling are
service_layer/groups; this module holds the commands, their validation and the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from booking_service.domain import erasure
from booking_service.domain.commands import Command, CreateBooking, VenueDetails
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import (
    BookingError,
    Contention,
    FieldViolation,
    GroupVersionMismatch,
    InvalidTransition,
    ValidationFailed,
)
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.status import ACTIVE, BookingStatus
from booking_service.domain.validation import MAX_REASON_LENGTH, Violations, validate_create
from booking_service.domain.values import Actor, Guest, Money, Venue

#: The most items one group may hold.
MAX_ITEMS = 20


@dataclass(frozen=True, slots=True)
class GroupItem:
    """One booking of a CreateBookingGroup; the guest and venue are the group's."""

    unit_id: str
    start_time: datetime | None
    end_time: datetime | None
    party_size: int
    special_requests: str = ""


@dataclass(frozen=True, slots=True)
class CreateBookingGroup(Command):
    guest: Guest
    venue: VenueDetails
    items: tuple[GroupItem, ...]
    idempotency_key: str = ""

    def item_command(self, index: int) -> CreateBooking:
        """The item as the CreateBooking it is (the key is the group's: it is checked once)."""
        item = self.items[index]
        return CreateBooking(
            self.actor,
            self.guest,
            self.venue,
            item.unit_id,
            item.start_time,
            item.end_time,
            item.party_size,
            item.special_requests,
            self.idempotency_key,
            unreadable=tuple(v for v in self.unreadable if v.field.startswith(f"items[{index}].")),
            caller=self.caller,
        )


@dataclass(frozen=True, slots=True)
class CancelBookingGroup(Command):
    group_id: str
    expected_version: int
    reason: str = ""
    idempotency_key: str = ""


_SHARED = ("guest.", "venue.", "idempotency_key")


def validate_create_group(cmd: CreateBookingGroup, now: datetime, limits: BookingLimits) -> None:
    """Raises ValidationFailed listing every violation: each item checked as the CreateBooking it is
    (validate_create, the one create validation: a venue's own rules plug in there), its fields
    named `items[i].field`; the group's own fields once."""
    found: list[FieldViolation] = [v for v in cmd.unreadable if not v.field.startswith("items[")]
    if not cmd.items:
        found.append(FieldViolation("items", "is required: 1 to 20 bookings"))
    elif len(cmd.items) > MAX_ITEMS:
        found.append(FieldViolation("items", f"holds {len(cmd.items)} bookings; at most {MAX_ITEMS}"))
    for index in range(min(len(cmd.items), MAX_ITEMS)):
        try:
            validate_create(cmd.item_command(index), now, limits)
        except ValidationFailed as failed:
            found.extend(_of_item(v, index) for v in failed.violations)
    if not cmd.items:
        v = Violations()
        v.identifier("guest.guest_id", cmd.guest.guest_id)
        v.identifier("venue.venue_id", cmd.venue.venue_id)
        found.extend(v.items)
    if found:
        raise ValidationFailed(found)


def _of_item(violation: FieldViolation, index: int) -> FieldViolation:
    if violation.field.startswith(_SHARED) or violation.field.startswith("items["):
        return violation
    return replace(violation, field=f"items[{index}].{violation.field}")


def validate_cancel_group(cmd: CancelBookingGroup) -> None:
    v = Violations(cmd.unreadable)
    v.booking_id("group_id", cmd.group_id)
    v.expected_version(cmd.expected_version)
    v.text("reason", cmd.reason, MAX_REASON_LENGTH)
    v.idempotency_key(cmd.idempotency_key)
    v.raise_if_any()


def of_item(error: BookingError, index: int) -> BookingError:
    """Names the item an error is about (in its message and its metadata's `item_index`)."""
    error.message = f"Item {index} of the group: {error.message}"
    error.args = (error.message,)
    error.metadata["item_index"] = str(index)
    return error


@dataclass(eq=False, slots=True)
class BookingGroup:
    group_id: str
    reference: str
    guest: Guest
    venue: Venue
    booking_ids: tuple[str, ...]
    version: int
    create_time: datetime
    update_time: datetime
    #: The sum of the items' prices; None when they were not priced.
    total: Money | None = None
    #: The payment service's one intent for the total (empty when not paid up front).
    payment_intent_id: str = ""
    idempotency_key: str = ""
    cancellation_reason: str = ""
    cancel_time: datetime | None = None
    #: The items, in booking_ids order, when loaded with the group.
    bookings: list[Booking] = field(default_factory=list)
    stored_version: int = 0

    def keep_erased(self) -> None:
        """Puts the group in its erased form (erasure.py): the guest's data, the cancellation's reason."""
        self.guest = erasure.erased_guest(self.guest)
        self.cancellation_reason = erasure.erased_text(self.cancellation_reason)

    def ensure_version(self, expected: int) -> None:
        if expected != self.version:
            raise GroupVersionMismatch(self.group_id, expected, self.version)

    def cancel(self, reason: str, actor: Actor, now: datetime, deadlines: Deadlines) -> list[Booking]:
        """Cancels every item still active (an overdue PENDING one expires instead, as any request
        that meets it would settle it); returns the items that changed. Raises Contention when a
        saga holds an active item, InvalidTransition when no item is active (nothing changes then).
        The group's version rises by one."""
        active = [b for b in self.bookings if b.status in ACTIVE]
        if not active:
            raise InvalidTransition(
                f"Booking group {self.group_id} has no active booking left to cancel.",
                {"group_id": self.group_id, "current_version": str(self.version)},
            )
        for booking in active:
            if booking.saga_id is not None:
                raise Contention(
                    f"Booking group {self.group_id}: another change to its booking {booking.booking_id} "
                    "is under way; nothing was done. Retry shortly.",
                    {"group_id": self.group_id, "booking_id": booking.booking_id},
                )
        for booking in active:
            if not booking.expire_if_overdue(now, deadlines):
                booking.change_status(BookingStatus.CANCELLED, reason, actor, now, deadlines)
        self.version += 1
        self.update_time, self.cancel_time, self.cancellation_reason = now, now, reason
        return active
