"""The Booking aggregate: a booking's state, the rules for changing it, and what each change raised.

Every change bumps `version`, appends a history entry (`new_history`, written by the repository in
the same transaction) and appends domain events (`events`, collected by the unit of work).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from booking_service.domain import events as ev
from booking_service.domain.commands import BookingChanges
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import (
    BookingClosed,
    InvalidTransition,
    TransitionTooEarly,
    VersionMismatch,
)
from booking_service.domain.pricing import PricingSnapshot
from booking_service.domain.status import TERMINAL, BookingStatus, can_transition
from booking_service.domain.validation import Violations, check_changes
from booking_service.domain.values import Actor, Guest, Money, TimeSlot, Venue

S = BookingStatus

#: The booking's timestamps, one per lifecycle step (the transports and the database carry them all).
LIFECYCLE_TIMES = (
    "create_time",
    "update_time",
    "confirm_time",
    "check_in_time",
    "complete_time",
    "cancel_time",
    "no_show_time",
    "expire_time",
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change in a booking's life; `from_status` is None for the creation."""

    version: int
    from_status: BookingStatus | None
    to_status: BookingStatus
    reason: str
    actor: Actor
    changed_at: datetime
    changed_fields: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class Booking:
    booking_id: str
    reference: str
    guest: Guest
    venue: Venue
    unit_id: str | None
    slot: TimeSlot
    party_size: int
    special_requests: str
    status: BookingStatus
    version: int
    create_time: datetime
    update_time: datetime
    idempotency_key: str = ""
    pricing: PricingSnapshot | None = None
    #: What went back to the guest when the booking was cancelled after paying; None otherwise.
    refunded: Money | None = None
    payment_intent_id: str = ""
    inventory_reservation_id: str = ""
    cancellation_reason: str = ""
    confirm_time: datetime | None = None
    check_in_time: datetime | None = None
    complete_time: datetime | None = None
    cancel_time: datetime | None = None
    no_show_time: datetime | None = None
    expire_time: datetime | None = None
    #: The recorded history, oldest first, when the repository loaded it.
    history: list[HistoryEntry] = field(default_factory=list)
    #: History entries of changes made since loading, not yet stored.
    new_history: list[HistoryEntry] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    #: The version as stored; a save succeeds only if the stored row still has it.
    stored_version: int = 0

    @classmethod
    def create(
        cls,
        *,
        booking_id: str,
        reference: str,
        guest: Guest,
        venue: Venue,
        unit_id: str | None,
        slot: TimeSlot,
        party_size: int,
        special_requests: str,
        idempotency_key: str,
        actor: Actor,
        now: datetime,
        deadlines: Deadlines,
    ) -> Booking:
        booking = cls(
            booking_id=booking_id,
            reference=reference,
            guest=guest,
            venue=venue,
            unit_id=unit_id,
            slot=slot,
            party_size=party_size,
            special_requests=special_requests,
            status=S.PENDING,
            version=1,
            create_time=now,
            update_time=now,
            idempotency_key=idempotency_key,
            expire_time=deadlines.expiry(now),
        )
        booking.new_history.append(HistoryEntry(1, None, S.PENDING, "", actor, now))
        booking.events.append(ev.BookingCreated(booking_id, 1, now, actor))
        return booking

    @property
    def price(self) -> Money | None:
        return self.pricing.total if self.pricing is not None else None

    @property
    def paid_up_front(self) -> bool:
        """Whether the guest's payment was captured: confirming a prepaid booking captures it."""
        prepaid = self.pricing is not None and self.pricing.requires_prepayment
        return prepaid and bool(self.payment_intent_id) and self.confirm_time is not None

    def ensure_version(self, expected: int) -> None:
        if expected != self.version:
            raise VersionMismatch(self.booking_id, expected, self.version)

    def is_overdue(self, now: datetime) -> bool:
        """A PENDING booking past its deadline: expired in all but the record."""
        return self.status is S.PENDING and self.expire_time is not None and now >= self.expire_time

    def update(self, changes: BookingChanges, actor: Actor, now: datetime) -> tuple[str, ...]:
        """Applies the changes (a reschedule when time, unit or party size change); returns the
        fields that changed. Nothing changes, and the version stays, when every value is as stored."""
        if self.status in TERMINAL:
            raise BookingClosed(
                f"Booking {self.booking_id} is {self.status.value} and can no longer be changed.",
                {"booking_id": self.booking_id, "current_status": self.status.value},
            )
        guest = Guest(
            self.guest.guest_id,
            _pick(changes.guest_name, self.guest.name),
            _pick(changes.guest_email, self.guest.email),
            _pick(changes.guest_phone, self.guest.phone),
        )
        unit_id = self.unit_id if changes.unit_id is None else (changes.unit_id or None)
        slot = TimeSlot(_pick(changes.start_time, self.slot.start), _pick(changes.end_time, self.slot.end))
        party_size = _pick(changes.party_size, self.party_size)
        special_requests = _pick(changes.special_requests, self.special_requests)
        compared: tuple[tuple[str, object, object], ...] = (
            ("guest.name", self.guest.name, guest.name),
            ("guest.email", self.guest.email, guest.email),
            ("guest.phone", self.guest.phone, guest.phone),
            ("unit_id", self.unit_id, unit_id),
            ("start_time", self.slot.start, slot.start),
            ("end_time", self.slot.end, slot.end),
            ("party_size", self.party_size, party_size),
            ("special_requests", self.special_requests, special_requests),
        )
        changed = tuple(name for name, before, after in compared if before != after)
        v = Violations()
        check_changes(v, changes)
        if changes.guest_id is not None and changes.guest_id != self.guest.guest_id:
            v.add("guest.guest_id", "cannot change: a booking for another guest is a new booking")
        if "start_time" in changed and self.status is S.CHECKED_IN:
            v.add("start_time", "cannot change once the guest has checked in")
        if "start_time" in changed or "end_time" in changed:
            v.new_slot(slot.start, slot.end, now, check_past="start_time" in changed)
        v.raise_if_any()
        if not changed:
            return ()
        previous_slot, previous_unit = self.slot, self.unit_id
        self.guest, self.unit_id, self.slot = guest, unit_id, slot
        self.party_size, self.special_requests = party_size, special_requests
        self._record(self.status, "", actor, now, changed)
        self.events.append(
            ev.BookingUpdated(
                self.booking_id, self.version, now, actor, changed, previous_slot, previous_unit
            )
        )
        return changed

    def reprice(self, pricing: PricingSnapshot) -> None:
        """Takes the pricing service's new quote, as part of the change being made (a reschedule)."""
        self.pricing = pricing

    def change_status(
        self, target: BookingStatus, reason: str, actor: Actor, now: datetime, deadlines: Deadlines
    ) -> None:
        current = self.status
        if not can_transition(current, target):
            raise InvalidTransition(
                f"Booking {self.booking_id} is {current.value}; it cannot become {target.value}.",
                {
                    "booking_id": self.booking_id,
                    "current_status": current.value,
                    "requested_status": target.value,
                },
            )
        due = self._due(target, deadlines)
        if due is not None and now < due:
            raise TransitionTooEarly(
                f"Booking {self.booking_id} cannot become {target.value} before {due.isoformat()}.",
                {
                    "booking_id": self.booking_id,
                    "current_status": current.value,
                    "not_before": due.isoformat(),
                },
            )
        self.status = target
        if target is S.CONFIRMED:
            self.confirm_time, self.expire_time = now, None
        elif target is S.CHECKED_IN:
            self.check_in_time = now
        elif target is S.COMPLETED:
            self.complete_time = now
        elif target is S.NO_SHOW:
            self.no_show_time = now
        elif target is S.CANCELLED:
            self.cancel_time, self.cancellation_reason = now, reason
            if self.paid_up_front and self.pricing is not None:
                self.refunded = self.pricing.refund_on_cancel(self.pricing.total, now)
            if current is S.PENDING:
                self.expire_time = None
        self._record(current, reason, actor, now, ("status",))
        for event in (ev.BookingStatusChanged, ev.STATUS_EVENTS[target]):
            self.events.append(event(self.booking_id, self.version, now, actor, current, target, reason))

    def expire_if_overdue(self, now: datetime, deadlines: Deadlines) -> bool:
        """Expires an overdue PENDING booking (correctness never waits for a sweeper)."""
        if not self.is_overdue(now):
            return False
        self.change_status(
            S.EXPIRED, "pending booking was not confirmed in time", Actor.system(), now, deadlines
        )
        return True

    def _due(self, target: BookingStatus, deadlines: Deadlines) -> datetime | None:
        if target is S.EXPIRED:
            return self.expire_time
        if target is S.NO_SHOW:
            return deadlines.no_show_after(self.venue, self.slot.start)
        return None

    def _record(
        self, from_status: BookingStatus, reason: str, actor: Actor, now: datetime, fields: tuple[str, ...]
    ) -> None:
        self.version += 1
        self.update_time = now
        self.new_history.append(
            HistoryEntry(self.version, from_status, self.status, reason, actor, now, fields)
        )


T = TypeVar("T")


def _pick(new: T | None, old: T) -> T:
    return old if new is None else new
