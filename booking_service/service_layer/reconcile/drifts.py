"""The kinds of drift between a booking and the peers' own view, and how each is found (pure).

| kind                          | what the peers show                                 | --fix                |
|-------------------------------|-----------------------------------------------------|----------------------|
| hold_without_active_booking   | a live hold for a closed or never-stored booking    | release it           |
| active_booking_without_hold   | the active booking's hold released or unknown       | none: an operator    |
| hold_differs                  | the hold's unit, times or party size differ         | none: an operator    |
| capture_not_recorded          | a captured intent the booking does not record       | record it (a PENDING |
|                               |                                                     | booking is confirmed,|
|                               |                                                     | a closed one refunds)|
| capture_recorded_but_absent   | the booking records a capture the intent lacks      | none: an operator    |
| open_intent_on_closed_booking | an open intent on a closed or never-stored booking  | void it              |
| void_not_recorded             | a voided intent the booking records as open         | record it            |
| refund_not_recorded           | a refund the booking's money record lacks           | none: an operator    |
| refund_recorded_but_absent    | a refund the booking records as made, unknown there | none: an operator    |
| refund_pending                | a refund asked for and not made, nothing running    | ask for it again     |
| money_on_unknown_booking      | a captured intent for a never-stored booking        | none: an operator    |
| group_money_differs           | a group's items hold (captured - refunded, minor    | none: an operator    |
|                               | units) other than the group's intent holds net, or  |                      |
|                               | their shares do not add up to the intent            |                      |

The items of a booking group share one intent (opened under the group's id): group_drifts.py
compares each item with it, and the group as a whole.

A booking that a saga holds right now is in flight, not drifting: it is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentStatus, RefundStatus
from booking_service.domain.status import ACTIVE
from booking_service.service_layer.peers import Hold, Intent, PeerRefund

KINDS = (
    "hold_without_active_booking",
    "active_booking_without_hold",
    "hold_differs",
    "capture_not_recorded",
    "capture_recorded_but_absent",
    "open_intent_on_closed_booking",
    "void_not_recorded",
    "refund_not_recorded",
    "refund_recorded_but_absent",
    "refund_pending",
    "money_on_unknown_booking",
    "group_money_differs",
)
#: The kinds --fix settles through the sagas; the others need an operator.
FIXABLE = frozenset(
    {
        "hold_without_active_booking",
        "capture_not_recorded",
        "open_intent_on_closed_booking",
        "void_not_recorded",
        "refund_pending",
    }
)


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    booking_id: str
    detail: str

    @property
    def fixable(self) -> bool:
        return self.kind in FIXABLE


@dataclass(frozen=True, slots=True)
class PeerView:
    """What the peers know of one booking: its reservations, its intents, each intent's refunds."""

    holds: Sequence[Hold]
    intents: Sequence[Intent]
    refunds: Mapping[str, Sequence[PeerRefund]]


def of_booking(booking: Booking, view: PeerView) -> list[Drift]:
    """The drifts between a stored booking and the peers' view of it."""
    found = [*_holds(booking, view.holds)]
    for intent in view.intents:
        found += money_of(booking, intent, view.refunds.get(intent.intent_id, ()))
    return found


def of_unknown_booking(booking_id: str, view: PeerView) -> list[Drift]:
    """The drifts of a booking this service never stored (its create saga did not finish)."""
    found = [
        Drift(
            "hold_without_active_booking", booking_id, f"hold {hold.reservation_id} of a booking never stored"
        )
        for hold in view.holds
        if hold.held
    ]
    for intent in view.intents:
        if intent.status == "requires_confirmation":
            found.append(
                Drift("open_intent_on_closed_booking", booking_id, f"intent {intent.intent_id} is open")
            )
        elif intent.captured and intent.refunded != intent.amount:
            found.append(
                Drift(
                    "money_on_unknown_booking",
                    booking_id,
                    f"intent {intent.intent_id} captured {intent.amount}",
                )
            )
    return found


def _holds(booking: Booking, holds: Sequence[Hold]) -> list[Drift]:
    found = []
    active = booking.status in ACTIVE
    ours = booking.inventory_reservation_id
    for hold in holds:
        if hold.held and (not active or hold.reservation_id != ours):
            state = booking.status.value if hold.reservation_id == ours else "another hold of"
            found.append(
                Drift(
                    "hold_without_active_booking", booking.booking_id, f"hold {hold.reservation_id} ({state})"
                )
            )
    if active and ours:
        mine = next((hold for hold in holds if hold.reservation_id == ours), None)
        if mine is None or not mine.held:
            found.append(
                Drift(
                    "active_booking_without_hold",
                    booking.booking_id,
                    f"hold {ours} is not held by the inventory",
                )
            )
        elif (mine.unit_id, mine.slot, mine.party_size) != (
            booking.unit_id,
            booking.slot,
            booking.party_size,
        ):
            found.append(Drift("hold_differs", booking.booking_id, f"hold {ours} is for another stay"))
    return found


def money_of(booking: Booking, intent: Intent, refunds: Sequence[PeerRefund]) -> list[Drift]:
    """The drifts between a booking's money record and one intent opened for it (and that intent's
    refunds made for the booking); group_drifts.py adds what sharing an intent allows."""
    record, bid = booking.payment, booking.booking_id
    if record is None or record.intent_id != intent.intent_id:
        if intent.status == "requires_confirmation":
            return [
                Drift("open_intent_on_closed_booking", bid, f"intent {intent.intent_id} is not the booking's")
            ]
        if intent.captured and intent.refunded != intent.amount:
            return [Drift("capture_not_recorded", bid, f"intent {intent.intent_id} is not the booking's")]
        return []
    found = []
    closed = booking.status not in ACTIVE
    if intent.captured and record.captured is None:
        found.append(
            Drift("capture_not_recorded", bid, f"intent {intent.intent_id} captured {intent.amount}")
        )
    elif record.captured is not None and not intent.captured:
        found.append(
            Drift("capture_recorded_but_absent", bid, f"intent {intent.intent_id} is {intent.status}")
        )
    if intent.status == "requires_confirmation" and closed:
        found.append(Drift("open_intent_on_closed_booking", bid, f"intent {intent.intent_id} is open"))
    if intent.status == "canceled" and record.status is PaymentStatus.REQUIRES_CONFIRMATION:
        found.append(Drift("void_not_recorded", bid, f"intent {intent.intent_id} was voided"))
    made = {refund.refund_id for refund in refunds if refund.succeeded}
    recorded = {r.refund_id for r in record.refunds if r.status is RefundStatus.SUCCEEDED}
    found += [Drift("refund_not_recorded", bid, f"refund {rid}") for rid in sorted(made - recorded)]
    found += [Drift("refund_recorded_but_absent", bid, f"refund {rid}") for rid in sorted(recorded - made)]
    if record.refund_pending.amount_minor and booking.saga_id is None:
        found.append(Drift("refund_pending", bid, f"{record.refund_pending} asked back, not made"))
    return found
