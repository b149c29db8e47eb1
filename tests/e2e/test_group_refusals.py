"""A booking group's refusals say what the caller can act on: two items kept apart only by the
venue's turnover buffers are refused up front in CreateBooking's words (no peer called), and a
group cancel never answers with an item's version when a single-booking change races it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from tests.e2e.groups_support import HOTEL_START, check_groups, group_request
from tests.e2e.peers_support import World, world
from tests.e2e.test_venue_policy import policy_request, source
from tests.helpers import rich_error

S = pb.BookingStatus
STAY = timedelta(days=1, hours=20)  # group_request's two nights: 14:00 to 10:00


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    async with world(database_url, settings, sandbox) as running:
        yield running


@pytest.fixture
def venue() -> str:
    return f"group-rules-{uuid.uuid4().hex[:10]}"


async def test_items_kept_apart_only_by_buffers_are_refused_up_front(w: World, venue: str) -> None:
    """Room 1 from 14:00 to 10:00 two days later, then again from 10:00: the times meet nowhere,
    but the venue's two hours of buffer_after do. Refused before any hold is made, naming the
    buffer, its value and its source, as CreateBooking names it."""
    await w.stub.UpdateVenuePolicy(policy_request(venue, buffer_after=timedelta(hours=2)))
    then = HOTEL_START + STAY
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await w.stub.CreateBookingGroup(group_request(venue, ["room-1", ("room-1", then)]))
    error = rich_error(raised.value)
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    assert (error.metadata["item_index"], error.metadata["other_item_index"]) == ("1", "0")
    assert error.message.startswith("Item 1 of the group: Unit room-1 of venue"), error.message
    assert f"booked from {HOTEL_START.isoformat()} to {then.isoformat()}" in error.message
    assert f"that booking's buffer_after of 2 hours ({source(venue)})" in error.message, error.message
    assert error.metadata["held_buffer_after"] == f"7200s ({source(venue)})"
    assert [h for h in w.sandbox.state.inventory.holds.values() if h.venue_id == venue] == []
    # Past the buffer the same two items make a group.
    later = then + timedelta(hours=2)
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", ("room-1", later)]))
    assert len(group.bookings) == 2
    await check_groups(w, venue)


async def test_a_group_cancel_raced_by_a_change_of_one_item_cancels_it_as_it_now_is(
    w: World, venue: str
) -> None:
    """An item changes (a version of its own) between the group cancel's read of it and its save:
    the cancel is made from the item as it now is, never refused with the item's version, which
    the caller never sent (it names the group's)."""
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    item = group.bookings[1]
    async with w.app.engine.connect() as other:
        await other.execute(
            text("SELECT 1 FROM bookings WHERE booking_id = :id FOR UPDATE"), {"id": item.booking_id}
        )
        cancel = asyncio.ensure_future(
            w.stub.CancelBookingGroup(
                gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=1)
            )
        )
        await _waiting_on_a_lock(w)  # the cancel has read the group and waits on the item's row
        assert not cancel.done()
        await other.execute(
            text(
                "UPDATE bookings SET version = 2, special_requests = 'late checkout' WHERE booking_id = :id"
            ),
            {"id": item.booking_id},
        )
        await other.execute(
            text(
                "INSERT INTO booking_status_history (booking_id, version, from_status, to_status,"
                " reason, actor, source, changed_fields, change_time) VALUES (:id, 2, 'PENDING',"
                " 'PENDING', '', 'guest', 'API', '{special_requests}', now())"
            ),
            {"id": item.booking_id},
        )
        await other.commit()
    try:
        cancelled = await cancel
    except grpc.aio.AioRpcError as refused:
        error = rich_error(refused)
        assert f"Booking {item.booking_id} is at version" not in error.message, error.message
        raise
    assert cancelled.version == 2
    assert [b.status for b in cancelled.bookings] == [S.BOOKING_STATUS_CANCELLED] * 2
    assert cancelled.bookings[1].special_requests == "late checkout"
    assert cancelled.bookings[1].version == 3
    await check_groups(w, venue)


async def _waiting_on_a_lock(w: World) -> None:
    """Waits (bounded) until a statement of this database waits for a row lock."""
    for _ in range(500):
        async with w.app.engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the group cancel never waited on the item's row")
