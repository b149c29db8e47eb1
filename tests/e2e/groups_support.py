"""Test support for booking groups: a request builder and the invariants the database and the
sandbox peers must agree on after any number of group calls, faults included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentStatus, RefundStatus
from booking_service.domain.status import ACTIVE, BookingStatus
from tests.conftest import NOW
from tests.e2e.peers_support import World

HOTEL_START = NOW + timedelta(days=10, hours=5)  # 14:00 UTC


def group_request(
    venue_id: str,
    units: Sequence[str | tuple[str, datetime]],
    *,
    guest_id: str = "group-guest",
    venue_type: pb.VenueType = pb.VENUE_TYPE_HOTEL,
    key: str = "",
) -> pb.CreateBookingGroupRequest:
    """Two nights per unit (a unit may come with its own start); hotels are prepaid."""
    request = pb.CreateBookingGroupRequest(
        guest=pb.Guest(guest_id=guest_id, name="Grace Hopper"),
        venue=pb.Venue(venue_id=venue_id, venue_type=venue_type, time_zone="Europe/Berlin"),
        idempotency_key=key,
    )
    for unit in units:
        unit_id, start = unit if isinstance(unit, tuple) else (unit, HOTEL_START)
        item = gpb.BookingGroupItem(unit_id=unit_id, party_size=2)
        item.start_time.FromDatetime(start)
        item.end_time.FromDatetime(start + timedelta(days=1, hours=20))
        request.items.append(item)
    return request


async def check_groups(w: World, venue_id: str) -> None:
    """The invariants, from the database and the sandbox's own state:
    - no unit of the venue is held by two active bookings over overlapping times;
    - the inventory holds of the venue are exactly the active bookings' holds (no orphan hold);
    - every group is all active or all released (items stored all together or not at all, and a
      group never stored left nothing behind);
    - every intent opened for a group that was never stored is voided (no orphan intent or charge);
      a stored group's intent agrees with its items' money records (captured share, refunds)."""
    async with w.app.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT booking_id::text, group_id::text, unit_id, status, start_time, end_time,"
                    " inventory_reservation_id FROM bookings WHERE venue_id = :v"
                ),
                {"v": venue_id},
            )
        ).all()
        groups = {
            str(r[0]): [str(b) for b in r[1]]
            for r in (
                await connection.execute(
                    text("SELECT group_id, booking_ids FROM booking_groups WHERE venue_id = :v"),
                    {"v": venue_id},
                )
            ).all()
        }
    active = [r for r in rows if r.status in {s.value for s in ACTIVE}]
    for i, a in enumerate(active):
        for b in active[i + 1 :]:
            if a.unit_id and a.unit_id == b.unit_id:
                assert not (a.start_time < b.end_time and b.start_time < a.end_time), f"double booked {a} {b}"
    state = w.sandbox.state
    holds = [h for h in state.inventory.holds.values() if h.venue_id == venue_id]
    held = {h.reservation_id for h in holds if h.status == "held"}
    assert held == {r.inventory_reservation_id for r in active}, (
        "an orphan hold, or an active booking without one"
    )
    stored = {r.booking_id for r in rows}
    by_id = {r.booking_id: r for r in rows}
    for group_id, booking_ids in groups.items():
        assert set(booking_ids) <= stored, f"group {group_id} lost items"
        assert all(by_id[b].group_id == group_id for b in booking_ids)
    for hold in holds:
        if hold.booking_id not in stored:
            assert hold.status == "released", f"orphan hold {hold}"
    for group_id in await _group_sagas(w, venue_id):
        intents = [i for i in state.payments.intents.values() if i.booking_id == group_id]
        if group_id in groups:
            assert len(intents) <= 1, intents
            for intent in intents:
                await _agrees(w, intent.intent_id, groups[group_id])
        else:
            assert all(i.status == "canceled" for i in intents), (
                f"orphan intent of group {group_id}: {intents}"
            )


async def _group_sagas(w: World, venue_id: str) -> list[str]:
    """Every group a create saga was started for at the venue, stored or not."""
    async with w.app.engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT booking_id::text FROM booking_sagas WHERE kind = 'group_create'"
                " AND data->'items'->0->'stay'->>'venue_id' = :v"
            ),
            {"v": venue_id},
        )
        return [str(r[0]) for r in found.all()]


async def _agrees(w: World, intent_id: str, booking_ids: list[str]) -> None:
    """The group's intent and its items' money records say the same (minor units, EUR):
    - each refund the payment service made is recorded SUCCEEDED on the item it was made for,
      and nothing else is; none is left pending;
    - a captured intent is recorded by every item that left PENDING, as its own price; an intent
      not captured by none; a voided one is recorded VOIDED by every item, and an open one is
      kept open only while an item is active (no orphan hold of money);
    - the sum over the items of what each holds (captured - refunded, or a PENDING item's share
      of a captured intent) is what the payment service holds net for the intent;
    - no closed item holds more than its frozen policy keeps (a cancelled one the fee at the time
      it was cancelled, an expired one nothing), unless it visibly awaits an operator."""
    intent = w.sandbox.state.payments.intents[intent_id]
    items = [await w.app.use_cases.ctx.reads.get(b) for b in booking_ids]
    theirs = {
        r["refund_id"]: r for r in w.sandbox.state.payments.refunds.values() if r["intent_id"] == intent_id
    }
    ours: dict[str, int] = {}
    held = 0
    for item in items:
        assert item is not None
        assert item.payment is not None
        record = item.payment
        assert record.intent_id == intent_id
        assert record.refund_pending.amount_minor == 0, record
        for refund in record.refunds:
            assert refund.status is RefundStatus.SUCCEEDED, refund
            ours[refund.refund_id] = refund.amount.amount_minor
            assert theirs[refund.refund_id]["metadata"]["booking_id"] == item.booking_id
        pending = item.status is BookingStatus.PENDING
        if intent.status == "succeeded" and not pending:
            assert record.captured == item.price, (item.status, record)
        if intent.status != "succeeded":
            assert record.captured is None, record
        if intent.status == "canceled":
            assert record.status is PaymentStatus.VOIDED, (item.booking_id, item.status, record)
        if record.captured is not None:
            mine = record.captured.amount_minor - record.refunded.amount_minor
        else:
            mine = record.amount.amount_minor if intent.status == "succeeded" and pending else 0
        held += mine
        if item.status not in ACTIVE and not item.attention:
            assert mine == _kept(item), (item.booking_id, item.status, record)
    if intent.status == "requires_confirmation":
        assert any(item is not None and item.status in ACTIVE for item in items), f"orphan open {intent}"
    assert ours == {k: int(r["amount_minor"]) for k, r in theirs.items()}, "a refund unrecorded or never made"
    assert sum(ours.values()) == intent.refunded_minor
    net = intent.amount_minor - intent.refunded_minor if intent.status == "succeeded" else 0
    assert held == net, f"the items hold {held}, the payment service {net} of {intent}"


def _kept(item: Booking) -> int:
    """What a closed item keeps of its captured share under its own rules (minor units)."""
    record = item.payment
    if record is None or record.captured is None:
        return 0
    if item.status is BookingStatus.CANCELLED and item.pricing is not None:
        back = item.pricing.refund_on_cancel(record.captured, item.cancel_time or item.update_time)
        return record.captured.amount_minor - back.amount_minor
    if item.status is BookingStatus.EXPIRED:
        return 0
    return record.captured.amount_minor
