"""Domain events: what happened to a booking, raised by the aggregate and collected by the unit of work.

Each event names its seed event type (`booking.created`, ...). A status change raises
BookingStatusChanged and then the event specific to the new status, both carrying the statuses
before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, TimeSlot


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


#: The event specific to each status a booking can move to.
STATUS_EVENTS: dict[BookingStatus, type[StatusEvent]] = {
    BookingStatus.CONFIRMED: BookingConfirmed,
    BookingStatus.CHECKED_IN: BookingCheckedIn,
    BookingStatus.COMPLETED: BookingCompleted,
    BookingStatus.CANCELLED: BookingCancelled,
    BookingStatus.EXPIRED: BookingExpired,
    BookingStatus.NO_SHOW: BookingNoShow,
}
