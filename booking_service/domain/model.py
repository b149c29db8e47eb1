"""The Booking aggregate: a booking's state, the rules for changing it, and what each change raised.

Every change bumps `version`, appends a history entry (`new_history`, written by the repository in
the same transaction) and appends domain events (`events`, collected by the unit of work).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from booking_service.domain import erasure
from booking_service.domain import events as ev
from booking_service.domain.commands import BookingChanges
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import (
    BookingClosed,
    Contention,
    InvalidTransition,
    PaymentRequired,
    TransitionTooEarly,
    VersionMismatch,
)
from booking_service.domain.limits import BookingLimits
from booking_service.domain.payment import PaymentRecord, RefundStatus
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


@dataclass(frozen=True, slots=True)
class Attention:
    """A saga of the booking that cannot finish without an operator (`booking-service sagas`)."""

    saga_id: str
    kind: str
    reason: str
    since: datetime


#: The key of the refund a booking's closing asks for (one per booking; an operator's are others).
CLOSING_REFUND = "refund"


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
    #: The payment, as the payment service confirmed it (payment.py); None when not paid up front.
    payment: PaymentRecord | None = None
    #: The saga that is changing the booking's money or hold right now, if any: one at a time,
    #: decided in the database before any peer is called (a second one is refused, CONTENTION).
    saga_id: str | None = None
    #: The sagas of the booking that need an operator, oldest first (empty when none does).
    attention: tuple[Attention, ...] = ()
    #: The booking group the booking is an item of (domain/group.py); None for one made on its own.
    group_id: str | None = None
    payment_intent_id: str = ""
    inventory_reservation_id: str = ""
    #: The rules in force at the venue when the booking was made (venue_policy.py), frozen: a
    #: reschedule is judged by them, and the buffers keep blocking the unit, whatever the venue's
    #: policy says later. None for a booking made before they were stored (migration 0009): the
    #: venue's rules of the day judge it, and it has no buffers.
    rules: BookingLimits | None = None
    #: The version of the venue's policy those rules came from (0: the settings alone).
    policy_version: int = 0
    cancellation_reason: str = ""
    #: The version at which the guest's personal data was erased (erasure.py); None: it was not.
    #: An erased booking is stored erased after every later change as well (keep_erased).
    guest_erased_version: int | None = None
    confirm_time: datetime | None = None
    check_in_time: datetime | None = None
    complete_time: datetime | None = None
    cancel_time: datetime | None = None
    no_show_time: datetime | None = None
    expire_time: datetime | None = None
    #: The history, oldest first: all of it (versions 1 to `version`) when the repository loaded it
    #: or the booking was just created; otherwise empty or short of `version` (changes since loading
    #: are in `new_history`).
    history: list[HistoryEntry] = field(default_factory=list)
    #: History entries of changes made since loading, not yet stored.
    new_history: list[HistoryEntry] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    #: The version as stored; a save succeeds only if the stored row still has it.
    stored_version: int = 0
    #: The saga that held the booking as stored; a save succeeds only if the stored row still has it.
    stored_saga_id: str | None = None

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
        group_id: str | None = None,
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
            group_id=group_id,
        )
        created = HistoryEntry(1, None, S.PENDING, "", actor, now)
        booking.history.append(created)  # a new booking's whole history
        booking.new_history.append(created)
        booking.events.append(ev.BookingCreated(booking_id, 1, now, actor))
        return booking

    @property
    def blocked(self) -> TimeSlot:
        """The time the booking blocks its unit: its slot widened by its frozen buffers (none for a
        booking made before rules were frozen), as the exclusion constraint compares them (0009)."""
        return self.rules.blocked(self.slot) if self.rules is not None else self.slot

    @property
    def price(self) -> Money | None:
        return self.pricing.total if self.pricing is not None else None

    @property
    def refunded(self) -> Money | None:
        """What went back of a captured payment, as the payment service confirmed it; None when
        nothing was captured."""
        if self.payment is None or self.payment.captured is None:
            return None
        return self.payment.refunded

    def capture_share(self, captured: Money) -> Money:
        """What of a captured intent is this booking's: all of it, or, for an item of a group (whose
        one intent pays for every item), the item's own price (its record's amount)."""
        if self.group_id is not None and self.payment is not None:
            return self.payment.amount
        return captured

    def ensure_version(self, expected: int) -> None:
        """Refuses a change made from another version than the current one; an erasure of the
        guest's data changed nothing the caller decides on, so a change made from the version just
        before it still lands (a request in flight while the guest was erased goes through)."""
        if expected == self.version:
            return
        if self.guest_erased_version == self.version and expected == self.version - 1:
            return
        raise VersionMismatch(self.booking_id, expected, self.version)

    def ensure_free(self, saga_id: str | None = None) -> None:
        """Refuses a change while a saga other than `saga_id` changes the booking's money or hold
        (the database checks it again when the change is saved)."""
        if self.saga_id is not None and self.saga_id != saga_id:
            raise Contention.busy(self.booking_id)

    def is_overdue(self, now: datetime) -> bool:
        """A PENDING booking past its deadline: expired in all but the record."""
        return self.status is S.PENDING and self.expire_time is not None and now >= self.expire_time

    def update(
        self, changes: BookingChanges, actor: Actor, now: datetime, limits: BookingLimits
    ) -> tuple[str, ...]:
        """Applies the changes (a reschedule when time, unit or party size change) within the
        limits; returns the fields that changed. Nothing changes, and the version stays, when every
        value is as stored. Raises BookingClosed (a final status) or ValidationFailed."""
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
        check_changes(v, changes, limits, changed)
        if changes.guest_id is not None and changes.guest_id != self.guest.guest_id:
            v.add("guest.guest_id", "cannot change: a booking for another guest is a new booking")
        if "start_time" in changed and self.status is S.CHECKED_IN:
            v.add("start_time", "cannot change once the guest has checked in")
        if "start_time" in changed or "end_time" in changed:
            v.new_slot(slot.start, slot.end, now, limits, check_past="start_time" in changed)
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

    def reprice(self, pricing: PricingSnapshot, now: datetime) -> None:
        """Takes the pricing service's new quote, as part of the change being made (a reschedule);
        a cancellation policy that has lapsed stays lapsed (PricingSnapshot.rescheduled)."""
        self.pricing = pricing if self.pricing is None else self.pricing.rescheduled(pricing, now)

    def change_status(
        self,
        target: BookingStatus,
        reason: str,
        actor: Actor,
        now: datetime,
        deadlines: Deadlines,
        *,
        captured: Money | None = None,
    ) -> None:
        """Moves the booking to `target` (the state machine and its deadlines decide). `captured`:
        the payment service confirmed this capture, recorded in the same change (a confirmation).
        Closing a booking whose payment was captured asks back what its rules give (refund_due)."""
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
        if (
            target is S.CONFIRMED
            and self.payment is not None
            and self.payment.captured is None
            and captured is None
        ):
            raise PaymentRequired(
                f"Booking {self.booking_id} is paid up front: it is confirmed only once its payment is "
                "taken, and it was not.",
                {
                    "booking_id": self.booking_id,
                    "current_status": current.value,
                    "intent_id": self.payment.intent_id,
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
        fields: tuple[str, ...] = ("status",)
        if captured is not None and self.payment is not None:
            self.payment = self.payment.with_capture(captured)
            fields = ("status", "payment")
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
            if current is S.PENDING:
                self.expire_time = None
        refund = self.refund_due(now) if target in TERMINAL else None
        if refund is not None and self.payment is not None:
            self.payment = self.payment.with_refund_requested(
                CLOSING_REFUND, refund, f"booking {target.value.lower()}", now
            )
            fields = ("status", "payment")
        self._record(current, reason, actor, now, fields)
        if captured is not None:
            self.events.append(ev.PaymentCaptured(self.booking_id, self.version, now, actor, captured))
        for event in (ev.BookingStatusChanged, ev.STATUS_EVENTS[target]):
            self.events.append(event(self.booking_id, self.version, now, actor, current, target, reason))

    def refund_due(self, now: datetime) -> Money | None:
        """What a closed booking gives back of its captured payment, not yet asked back: a
        cancellation what the frozen cancellation policy gives at the time of cancelling, an
        expired booking everything (it was never confirmed), a no-show or completed stay nothing.
        None when nothing is due or it was asked for already."""
        payment = self.payment
        if payment is None or payment.captured is None or payment.refund(CLOSING_REFUND) is not None:
            return None
        if self.status is S.CANCELLED and self.pricing is not None:
            back = self.pricing.refund_on_cancel(payment.captured, self.cancel_time or now)
        elif self.status is S.EXPIRED:
            back = payment.captured
        else:
            return None
        amount = min(back.amount_minor, payment.refundable.amount_minor)
        return Money(amount, back.currency) if amount > 0 else None

    # --- what the payment service confirmed, each its own change -------------------------------

    def record_capture(self, captured: Money, reason: str, now: datetime) -> None:
        """A capture found after the fact (a payment that landed on a booking no longer PENDING);
        a closed booking then asks back what its rules give."""
        assert self.payment is not None
        self.payment = self.payment.with_capture(captured)
        due = self.refund_due(now)
        if due is not None:
            self.payment = self.payment.with_refund_requested(CLOSING_REFUND, due, reason, now)
        self._money_change(ev.PaymentCaptured, captured, reason, now)

    def record_void(self, reason: str, now: datetime) -> None:
        assert self.payment is not None
        self.payment = self.payment.with_void()
        self._money_change(ev.PaymentVoided, self.payment.amount, reason, now)

    def record_refund(
        self, key: str, status: RefundStatus, now: datetime, refund_id: str = "", failure: str = ""
    ) -> None:
        """The payment service's answer to a requested refund: SUCCEEDED or FAILED."""
        assert self.payment is not None
        refund = self.payment.refund(key)
        assert refund is not None
        self.payment = self.payment.with_refund_settled(key, status, now, refund_id, failure)
        event = ev.RefundSucceeded if status is RefundStatus.SUCCEEDED else ev.RefundFailed
        reason = refund.reason if status is RefundStatus.SUCCEEDED else failure
        self._money_change(event, refund.amount, reason, now, refund_id)

    def _money_change(
        self, event: type[ev.PaymentEvent], amount: Money, reason: str, now: datetime, refund_id: str = ""
    ) -> None:
        actor = Actor.system()
        self._record(self.status, reason, actor, now, ("payment",))
        self.events.append(event(self.booking_id, self.version, now, actor, amount, refund_id, reason))

    # --- operators ------------------------------------------------------------------------------

    def need_attention(self, saga_id: str, kind: str, reason: str, now: datetime) -> None:
        """A saga of the booking gave up (a peer refused a step for good, or kept failing)."""
        others = tuple(a for a in self.attention if a.saga_id != saga_id)
        self.attention = (*others, Attention(saga_id, kind, reason, now))
        self._record(self.status, reason, Actor.system(), now, ("attention",))
        self.events.append(
            ev.AttentionNeeded(self.booking_id, self.version, now, Actor.system(), saga_id, reason)
        )

    def resolve_attention(
        self, saga_id: str, note: str, actor: Actor, now: datetime, *, retry: bool = False
    ) -> None:
        """An operator settled the saga's business (`note`), or retries the saga (`retry`): refunds
        the payment service refused are then asked for again. Nothing changes when that saga did not
        need attention (another saga's stays)."""
        if all(a.saga_id != saga_id for a in self.attention):
            return
        self.attention = tuple(a for a in self.attention if a.saga_id != saga_id)
        fields: tuple[str, ...] = ("attention",)
        failed = (
            [r.key for r in self.payment.refunds if r.status is RefundStatus.FAILED] if self.payment else []
        )
        if retry and failed and self.payment is not None:
            for key in failed:
                self.payment = self.payment.with_refund_settled(key, RefundStatus.REQUESTED, now)
            fields = ("attention", "payment")
        self._record(self.status, note, actor, now, fields)
        self.events.append(ev.AttentionResolved(self.booking_id, self.version, now, actor, saga_id, note))

    # --- the guest's personal data (erasure.py) ------------------------------------------------

    def erase_guest_data(self, actor: Actor, now: datetime) -> bool:
        """Replaces the guest's personal data and free text with their erased form: a change of its
        own (version, history entry, booking.guest_erased) that leaves ids, times, statuses and
        money as they are. False, and nothing changes, when the booking was erased already."""
        if self.guest_erased_version is not None:
            return False
        self.keep_erased()
        self._record(self.status, "", actor, now, erasure.ERASED_FIELDS)
        self.guest_erased_version = self.version
        self.events.append(ev.GuestErased(self.booking_id, self.version, now, actor, erasure.ERASED_FIELDS))
        return True

    def keep_erased(self) -> None:
        """Puts the booking in its erased form: the guest's data, its free text, and the reasons
        people gave for the changes made since it was loaded (history and events alike)."""
        self.guest = erasure.erased_guest(self.guest)
        self.special_requests = erasure.erased_text(self.special_requests)
        self.cancellation_reason = erasure.erased_text(self.cancellation_reason)
        self.history = [erasure.with_erased_reason(entry) for entry in self.history]
        self.new_history = [erasure.with_erased_reason(entry) for entry in self.new_history]
        self.events = [erasure.with_erased_reason(event) for event in self.events]

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
