"""Booking groups (issue 17): all or nothing against the real database and the sandbox peers on
loopback, refunds by each item's frozen policy against the group's one payment, idempotency and
versions. After each, the database and the peers agree (groups_support.check_groups)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import httpx
import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from booking.v1 import venue_policy_pb2 as vp
from sqlalchemy import text

from tests.e2e.groups_support import HOTEL_START, check_groups, group_request
from tests.e2e.peers_support import World, world
from tests.helpers import rich_error

S = pb.BookingStatus


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    async with world(database_url, settings, sandbox) as running:
        yield running


@pytest.fixture
def venue() -> str:
    return f"group-hotel-{uuid.uuid4().hex[:10]}"


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


def holds_of(w: World, venue: str) -> list[str]:
    return sorted(h.status for h in w.sandbox.state.inventory.holds.values() if h.venue_id == venue)


async def test_a_group_is_held_priced_and_paid_as_one(w: World, venue: str) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2", "room-3"]))
    assert group.group_reference.startswith("GR-")
    assert group.version == 1
    assert [b.unit_id for b in group.bookings] == ["room-1", "room-2", "room-3"]
    assert all(b.group_id == group.group_id and b.status == S.BOOKING_STATUS_PENDING for b in group.bookings)
    assert all(len(b.history) == 1 for b in group.bookings)
    assert group.total_price.amount_minor == 3 * 24000
    intent = w.sandbox.state.payments.intents[group.payment_intent_id]
    assert (intent.booking_id, intent.amount_minor) == (group.group_id, 72000)
    for booking in group.bookings:  # each its own price, its share of the one intent
        assert booking.payment.intent_id == group.payment_intent_id
        assert booking.payment.amount.amount_minor == booking.price.amount_minor == 24000
        assert booking.pricing.cancellation.fee_percent == 50
    assert holds_of(w, venue) == ["held"] * 3
    assert await w.stub.GetBookingGroup(gpb.GetBookingGroupRequest(group_id=group.group_id)) == group
    single = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=group.bookings[1].booking_id))
    assert single.group_id == group.group_id
    await check_groups(w, venue)


async def test_a_taken_unit_refuses_the_whole_group_naming_the_item(w: World, venue: str) -> None:
    await w.stub.CreateBookingGroup(group_request(venue, ["room-2"], guest_id="first"))
    error = rich_error(
        await fails(w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2", "room-3"])))
    )
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    assert error.metadata["item_index"] == "1"
    assert "Item 1" in error.message
    assert holds_of(w, venue) == ["held"]  # the first group's: nothing was asked of the inventory
    await check_groups(w, venue)


async def test_two_items_on_one_unit_refuse_the_group(w: World, venue: str) -> None:
    later = HOTEL_START + timedelta(days=1)
    error = rich_error(
        await fails(w.stub.CreateBookingGroup(group_request(venue, ["room-1", ("room-1", later)])))
    )
    assert (error.reason, error.metadata["item_index"]) == ("UNIT_UNAVAILABLE", "1")
    assert holds_of(w, venue) == []


async def test_the_inventory_refusing_one_item_releases_the_others(w: World, venue: str) -> None:
    await w.admin.post("/admin/capacity", json={"venue_id": venue, "capacity": 4})
    error = rich_error(
        await fails(w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2", "room-3"])))
    )
    assert (error.reason, error.metadata["item_index"]) == ("SOLD_OUT", "2")
    assert holds_of(w, venue) == ["released", "released"]
    await check_groups(w, venue)


@pytest.mark.parametrize(
    ("path", "mode", "count"),
    [
        ("/api/v1/inventory/reserve", "error_after", 6),  # holds made, their answers lost
        ("/api/v1/payments/intents", "error_after", 2),  # the intent opened, its answer lost
        ("/api/v1/pricing/calculate", "error", 2),
    ],
)
async def test_a_peer_failing_half_way_leaves_nothing(
    w: World, venue: str, path: str, mode: str, count: int
) -> None:
    await w.fail_next(path, mode, count)
    error = rich_error(
        await fails(w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2", "room-3"])))
    )
    assert error.code == grpc.StatusCode.UNAVAILABLE
    await w.admin.post("/admin/reset", json={})
    # What the request could not undo while the peer failed, the recovery worker does.
    await asyncio.sleep(0.6)  # the breaker's open interval
    await w.recover()
    assert "held" not in holds_of(w, venue)
    await check_groups(w, venue)


async def test_an_idempotent_retry_returns_the_same_group(w: World, venue: str) -> None:
    request = group_request(venue, ["room-1", "room-2"], key=f"group-{venue}")
    first = await w.stub.CreateBookingGroup(request)
    again = await w.stub.CreateBookingGroup(request)
    assert again == first
    assert holds_of(w, venue) == ["held", "held"]
    other = group_request(venue, ["room-3"], key=f"group-{venue}")
    error = rich_error(await fails(w.stub.CreateBookingGroup(other)))
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"
    cancel = gpb.CancelBookingGroupRequest(group_id=first.group_id, expected_version=1, idempotency_key="c1")
    cancelled = await w.stub.CancelBookingGroup(cancel)
    assert cancelled.version == 2
    assert (await w.stub.CancelBookingGroup(cancel)).version == 2  # replayed, not refused as stale


async def test_a_stale_version_is_refused_and_names_the_current(
    w: World, venue: str, rest: httpx.AsyncClient
) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1"]))
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1)
    )
    error = rich_error(
        await fails(
            w.stub.CancelBookingGroup(
                gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1)
            )
        )
    )
    assert (error.code, error.reason, error.metadata["current_version"]) == (
        grpc.StatusCode.ABORTED,
        "VERSION_MISMATCH",
        "2",
    )


async def test_rest_answers_the_group_with_its_etag_and_if_match(
    rest: httpx.AsyncClient, ids: Callable[[str], str]
) -> None:
    venue = ids("rest-hotel")
    body = {
        "guest": {"guest_id": ids("guest"), "name": "Ada"},
        "venue": {"venue_id": venue, "venue_type": "VENUE_TYPE_RESTAURANT", "time_zone": "UTC"},
        "items": [
            {
                "unit_id": "t1",
                "start_time": "2030-01-05T18:00:00Z",
                "end_time": "2030-01-05T20:00:00Z",
                "party_size": 2,
            },
            {
                "unit_id": "t2",
                "start_time": "2030-01-05T18:00:00Z",
                "end_time": "2030-01-05T20:00:00Z",
                "party_size": 3,
            },
        ],
    }
    created = await rest.post("/api/v1/booking-groups", json=body)
    assert created.status_code == 200, created.text
    group = created.json()
    assert created.headers["etag"] == '"1"'
    assert [b["party_size"] for b in group["bookings"]] == [2, 3]
    read = await rest.get(f"/api/v1/booking-groups/{group['group_id']}")
    assert read.json()["group_reference"] == group["group_reference"]
    stale = await rest.post(
        f"/api/v1/booking-groups/{group['group_id']}/cancel", headers={"If-Match": '"7"'}, json={}
    )
    assert stale.status_code == 409
    cancelled = await rest.post(
        f"/api/v1/booking-groups/{group['group_id']}/cancel",
        headers={"If-Match": '"1"'},
        json={"reason": "plans changed"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.headers["etag"] == '"2"'
    assert {b["status"] for b in cancelled.json()["bookings"]} == {"BOOKING_STATUS_CANCELLED"}
    missing = await rest.get(f"/api/v1/booking-groups/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_invalid_items_are_named(w: World, venue: str) -> None:
    request = group_request(venue, ["room-1", "room-2"])
    request.items[1].party_size = 0
    request.items[0].end_time.CopyFrom(request.items[0].start_time)
    error = rich_error(await fails(w.stub.CreateBookingGroup(request)))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "items[1].party_size" in error.violations
    assert "items[0].end_time" in error.violations
    too_many = group_request(venue, [f"room-{i}" for i in range(21)])
    assert "items" in rich_error(await fails(w.stub.CreateBookingGroup(too_many))).violations


async def confirm(w: World, booking: pb.Booking) -> pb.Booking:
    return await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=booking.version, status=S.BOOKING_STATUS_CONFIRMED
        )
    )


async def test_cancelling_a_group_refunds_each_item_by_its_own_frozen_policy(w: World, venue: str) -> None:
    early, late = HOTEL_START, HOTEL_START + timedelta(days=10)
    group = await w.stub.CreateBookingGroup(group_request(venue, [("room-1", early), ("room-2", late)]))
    confirmed = [await confirm(w, booking) for booking in group.bookings]
    assert [b.payment.captured.amount_minor for b in confirmed] == [24000, 24000]  # each its share
    assert w.sandbox.state.payments.intents[group.payment_intent_id].status == "succeeded"
    # Past the first stay's free cancellation (18:00 the day before), long before the second's.
    w.clock.advance(early - w.clock() - timedelta(hours=2))
    cancelled = await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1, reason="plans changed")
    )
    assert cancelled.version == 2
    assert cancelled.cancellation_reason == "plans changed"
    read = await w.stub.GetBookingGroup(gpb.GetBookingGroupRequest(group_id=group.group_id))
    assert [b.status for b in read.bookings] == [S.BOOKING_STATUS_CANCELLED] * 2
    assert [b.refunded.amount_minor for b in read.bookings] == [12000, 24000]  # 50 % fee, then free
    assert all(b.history[-1].changed_fields == ["payment"] for b in read.bookings)
    intent = w.sandbox.state.payments.intents[group.payment_intent_id]
    assert intent.refunded_minor == 36000
    assert holds_of(w, venue) == ["released", "released"]
    await check_groups(w, venue)


async def test_cancelling_an_unpaid_group_voids_its_intent(w: World, venue: str) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1)
    )
    assert w.sandbox.state.payments.intents[group.payment_intent_id].status == "canceled"
    await check_groups(w, venue)


async def test_one_item_cancelled_alone_leaves_the_shared_intent_to_the_others(w: World, venue: str) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    first, second = group.bookings
    await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=first.booking_id, expected_version=first.version)
    )
    assert w.sandbox.state.payments.intents[group.payment_intent_id].status == "requires_confirmation"
    paid = await confirm(w, second)  # the other item can still be paid
    assert paid.payment.captured.amount_minor == 24000
    assert holds_of(w, venue) == ["held", "released"]


async def test_the_items_events_carry_the_group_id(w: World, venue: str) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1)
    )
    async with w.app.engine.connect() as connection:
        payloads = (
            await connection.execute(
                text("SELECT payload FROM booking_outbox WHERE booking_id = ANY(:ids) ORDER BY id"),
                {"ids": [b.booking_id for b in group.bookings]},
            )
        ).scalars()
        events = [pb.BookingEvent.FromString(payload) for payload in payloads]
    assert {e.type for e in events} >= {"booking.created", "booking.cancelled"}
    assert {(e.group_id, e.booking.group_id) for e in events} == {(group.group_id, group.group_id)}


async def test_a_capture_after_an_item_closed_gives_that_items_share_back(w: World, venue: str) -> None:
    """The payment service takes the group's intent whole: confirming the second item also takes
    the share of the first, cancelled before (for free), which is then recorded and refunded."""
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    first, second = group.bookings
    await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=first.booking_id, expected_version=1))
    await confirm(w, second)
    intent = w.sandbox.state.payments.intents[group.payment_intent_id]
    assert (intent.status, intent.refunded_minor) == ("succeeded", 24000)
    cancelled = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=first.booking_id))
    assert cancelled.payment.captured.amount_minor == 24000
    assert cancelled.refunded.amount_minor == 24000
    await check_groups(w, venue)


async def test_reading_a_group_settles_its_overdue_items(w: World, venue: str) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    w.clock.advance(timedelta(days=1))  # past the PENDING items' deadline
    read = await w.stub.GetBookingGroup(gpb.GetBookingGroupRequest(group_id=group.group_id))
    assert [b.status for b in read.bookings] == [S.BOOKING_STATUS_EXPIRED] * 2
    assert holds_of(w, venue) == ["released", "released"]
    assert w.sandbox.state.payments.intents[group.payment_intent_id].status == "canceled"
    await check_groups(w, venue)


async def test_the_venues_rules_judge_every_item_and_each_keeps_them(w: World, venue: str) -> None:
    policy = vp.UpdateVenuePolicyRequest(
        venue_id=venue, policy=vp.VenuePolicy(max_party_size=2), expected_version=0
    )
    policy.update_mask.paths.append("max_party_size")
    await w.stub.UpdateVenuePolicy(policy)
    request = group_request(venue, ["room-1", "room-2"])
    request.items[1].party_size = 3
    error = rich_error(await fails(w.stub.CreateBookingGroup(request)))
    assert list(error.violations) == ["items[1].party_size"]
    request.items[1].party_size = 2
    group = await w.stub.CreateBookingGroup(request)
    items = [await w.app.use_cases.ctx.reads.get(b.booking_id) for b in group.bookings]
    assert all(b is not None and b.policy_version == 1 for b in items)
