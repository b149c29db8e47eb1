"""Domain events: what happened to a booking, raised by the aggregate and collected by the unit of work.

Each event names its seed event type (`booking.created`, ...). A status change raises
BookingStatusChanged and then the event specific to the new status, both carrying the statuses
before and after. What the payment service confirmed about the booking's money raises a payment
event (captured, voided, a refund that succeeded or failed), and a saga that cannot finish without
an operator raises booking.attention_needed (booking.attention_resolved once settled).

EVENT_TYPES lists every type, from the classes below: the one list the event contract (the AsyncAPI
document, events.proto's comment) is checked against. GuestContact says whether the guest's email
and phone travel in events (EVENTS_GUEST_CONTACT); by default they do not: events carry the guest's
id and name only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, Money, TimeSlot


@dataclass(frozen=True, slots=True)
class Event:
    type: ClassVar[str] = "booking.event"
    booking_id: str
    version: int
    occurred_at: datetime
    actor: Actor


@dataclass(frozen=True, slots=True)
class BookingCreated(Event):
    type: ClassVar[str] = "booking.created"


@dataclass(frozen=True, slots=True)
class BookingUpdated(Event):
    type: ClassVar[str] = "booking.updated"
    changed_fields: tuple[str, ...]
    previous_slot: TimeSlot
    previous_unit_id: str | None


@dataclass(frozen=True, slots=True)
class StatusEvent(Event):
    """An event of a status change: from where, to where, and why."""

    from_status: BookingStatus
    to_status: BookingStatus
    reason: str


@dataclass(frozen=True, slots=True)
class BookingStatusChanged(StatusEvent):
    type: ClassVar[str] = "booking.status_changed"


@dataclass(frozen=True, slots=True)
class BookingConfirmed(StatusEvent):
    type: ClassVar[str] = "booking.confirmed"


@dataclass(frozen=True, slots=True)
class BookingCheckedIn(StatusEvent):
    type: ClassVar[str] = "booking.checked_in"


@dataclass(frozen=True, slots=True)
class BookingCompleted(StatusEvent):
    type: ClassVar[str] = "booking.completed"


@dataclass(frozen=True, slots=True)
class BookingCancelled(StatusEvent):
    type: ClassVar[str] = "booking.cancelled"


@dataclass(frozen=True, slots=True)
class BookingExpired(StatusEvent):
    type: ClassVar[str] = "booking.expired"


@dataclass(frozen=True, slots=True)
class BookingNoShow(StatusEvent):
    type: ClassVar[str] = "booking.no_show"


@dataclass(frozen=True, slots=True)
class PaymentEvent(Event):
    """A fact the payment service confirmed: `amount` moved (captured, voided or refunded);
    `refund_id` names the refund, `reason` says why."""

    amount: Money
    refund_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PaymentCaptured(PaymentEvent):
    type: ClassVar[str] = "booking.payment_captured"


@dataclass(frozen=True, slots=True)
class PaymentVoided(PaymentEvent):
    type: ClassVar[str] = "booking.payment_voided"


@dataclass(frozen=True, slots=True)
class RefundSucceeded(PaymentEvent):
    type: ClassVar[str] = "booking.refund_succeeded"


@dataclass(frozen=True, slots=True)
class RefundFailed(PaymentEvent):
    type: ClassVar[str] = "booking.refund_failed"


@dataclass(frozen=True, slots=True)
class AttentionEvent(Event):
    """A saga of the booking needs an operator (or no longer does): which saga, and why."""

    saga_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AttentionNeeded(AttentionEvent):
    type: ClassVar[str] = "booking.attention_needed"


@dataclass(frozen=True, slots=True)
class AttentionResolved(AttentionEvent):
    type: ClassVar[str] = "booking.attention_resolved"


@dataclass(frozen=True, slots=True)
class GuestErased(Event):
    """The guest's personal data in the booking was replaced (erasure.py): `erased_fields` name what."""

    type: ClassVar[str] = "booking.guest_erased"
    erased_fields: tuple[str, ...]


#: The event specific to each status a booking can move to.
STATUS_EVENTS: dict[BookingStatus, type[StatusEvent]] = {
    BookingStatus.CONFIRMED: BookingConfirmed,
    BookingStatus.CHECKED_IN: BookingCheckedIn,
    BookingStatus.COMPLETED: BookingCompleted,
    BookingStatus.CANCELLED: BookingCancelled,
    BookingStatus.EXPIRED: BookingExpired,
    BookingStatus.NO_SHOW: BookingNoShow,
}


class GuestContact(StrEnum):
    """Whether the guest's contact details (GUEST_CONTACT_FIELDS) leave the service in events:
    EVENTS_GUEST_CONTACT. Every consumer of the outbox (the brokers, a feed replaying it) gets what
    was written there, so this is decided where the event is written."""

    OMIT = "omit"
    INCLUDE = "include"


#: The guest's fields that events carry only with GuestContact.INCLUDE (its id and name always).
GUEST_CONTACT_FIELDS = ("email", "phone")


def _types(cls: type[Event]) -> list[str]:
    """The event types of `cls`'s subclasses in this module, depth first, in definition order."""
    found: list[str] = []
    for sub in cls.__subclasses__():
        if globals().get(sub.__name__) is not sub:  # another module's, or the class that
            continue  # @dataclass(slots=True) replaced with a new one
        if "type" in sub.__dict__:
            found.append(sub.type)
        found.extend(_types(sub))
    return found


#: Every event type, in definition order: each concrete event class above, found by its own `type`
#: (a class added here is in it without another edit).
EVENT_TYPES: tuple[str, ...] = tuple(_types(Event))
