"""The drifts between a booking group's items and the one payment intent they share (pure).

Each item's money record holds its share of the intent (its price, in minor units of the intent's
currency) and the refunds made for it (tagged with its booking id by sagas/release.py). Each item
is compared with the intent as a booking with an intent of its own is (drifts.money_of), less
what sharing allows:

- a PENDING item records no capture although the intent was captured, when another item records
  it (that item's confirmation took every share; this one records it when it is confirmed);
- the intent stays open while a closed item's is settled, as long as another item is active.

Then the group as a whole: an open intent once every item is closed (`open_intent_on_closed_booking`,
under the group's id: the release of any item voids it), a refund made for no item
(`refund_not_recorded`, under the group's id), and `group_money_differs` when the items' shares do
not add up to the intent, or when what the items hold (captured - refunded, or the share of a
PENDING item of a captured intent) differs from what the payment service holds net for the intent
(captured - refunded); the sums are checked when no item drifts (an item's drift explains them,
and its fix settles them). A group a saga is changing is in flight and not checked (groups.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from booking_service.domain.model import Booking
from booking_service.domain.status import ACTIVE, BookingStatus
from booking_service.domain.values import Money
from booking_service.service_layer.peers import Intent, PeerRefund
from booking_service.service_layer.reconcile.drifts import Drift, money_of


def of_group(
    group_id: str, items: Sequence[Booking], intent: Intent, refunds: Sequence[PeerRefund]
) -> list[Drift]:
    """The drifts of a stored group's items (each under its booking id) and of the group itself
    (under the group's id) against the group's intent and its refunds."""
    any_active = any(item.status in ACTIVE for item in items)
    taken = any(item.payment is not None and item.payment.captured is not None for item in items)
    found: list[Drift] = []
    for item in items:
        theirs = [r for r in refunds if r.metadata.get("booking_id") == item.booking_id]
        for drift in money_of(item, intent, theirs):
            if drift.kind == "capture_not_recorded" and item.status is BookingStatus.PENDING and taken:
                continue
            if drift.kind == "open_intent_on_closed_booking":
                continue  # the group's, said once below
            found.append(drift)
    of_items = bool(found)
    if intent.status == "requires_confirmation" and not any_active:
        found.append(
            Drift(
                "open_intent_on_closed_booking",
                group_id,
                f"intent {intent.intent_id} of the group is open; every item is closed",
            )
        )
    ours = {item.booking_id for item in items}
    found += [
        Drift(
            "refund_not_recorded",
            group_id,
            f"refund {r.refund_id} of intent {intent.intent_id} is for no item",
        )
        for r in refunds
        if r.succeeded and r.metadata.get("booking_id") not in ours
    ]
    return found if of_items else found + _sums(group_id, items, intent)


def intent_unknown(intent_id: str, items: Sequence[Booking]) -> list[Drift]:
    """The drifts of items whose group's intent the payment service does not know: each capture
    an item records is absent there."""
    return [
        Drift("capture_recorded_but_absent", item.booking_id, f"intent {intent_id} is unknown there")
        for item in items
        if item.payment is not None and item.payment.captured is not None
    ]


def held_by(item: Booking, intent: Intent) -> Money:
    """What of the group's intent an item holds (minor units of the intent's currency): its
    capture less its refunds as the payment service confirmed them; a PENDING item's share once
    the intent was captured (it records the capture when it is confirmed); else nothing."""
    payment = item.payment
    currency = intent.amount.currency
    if payment is None:
        return Money(0, currency)
    if payment.captured is not None:
        return payment.captured - payment.refunded
    if intent.captured and item.status is BookingStatus.PENDING:
        return payment.amount
    return Money(0, currency)


def _sums(group_id: str, items: Sequence[Booking], intent: Intent) -> list[Drift]:
    found = []
    currency = intent.amount.currency
    shares = sum((i.payment.amount.amount_minor for i in items if i.payment is not None), 0)
    if shares != intent.amount.amount_minor:
        total = Money(shares, currency)
        found.append(
            Drift(
                "group_money_differs",
                group_id,
                f"the items' shares add up to {total}; intent {intent.intent_id} is for {intent.amount}",
            )
        )
    held = Money(sum(held_by(item, intent).amount_minor for item in items), currency)
    net = intent.amount - intent.refunded if intent.captured else Money(0, currency)
    if held != net:
        found.append(
            Drift(
                "group_money_differs",
                group_id,
                f"the items hold {held}; the payment service holds {net} of intent {intent.intent_id}",
            )
        )
    return found
