"""Lifecycle events through the transactional outbox to a real Kafka-protocol broker on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import asyncpg
import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.outbox_relay.publisher import DATA_SCHEMA
from tests.conftest import NOW
from tests.e2e.events_support import EventWorld, count, event_world, per_booking

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus


@pytest.fixture
async def world(private_database: str, settings, kafka: EmbeddedKafka, peers) -> AsyncIterator[EventWorld]:
    async with event_world(private_database, settings, kafka, peers) as running:
        yield running


async def move(world: EventWorld, booking: pb.Booking, status: int) -> pb.Booking:
    return await world.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=booking.version, status=status
        )
    )


async def unsent(world: EventWorld) -> int:
    conn = await asyncpg.connect(world.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM booking_outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()


async def test_each_change_is_published_once_in_order_with_its_headers(
    world: EventWorld, new_booking: Make
) -> None:
    world.start_relay()
    a = await world.stub.CreateBooking(new_booking(), metadata=(("x-actor", "front-desk"),))
    a = await world.stub.UpdateBooking(
        pb.UpdateBookingRequest(
            booking_id=a.booking_id, expected_version=1, start_time=a.start_time, party_size=6
        )
    )
    for status in (S.BOOKING_STATUS_CONFIRMED, S.BOOKING_STATUS_CHECKED_IN, S.BOOKING_STATUS_COMPLETED):
        a = await move(world, a, status)
    b = await world.stub.CreateBooking(new_booking(unit_id="other-table"))
    await world.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=b.booking_id, expected_version=1, reason="rain")
    )

    received = await world.receive(count(11))
    assert len(received) == 11
    assert per_booking(received) == {
        a.booking_id: [
            (1, "booking.created"),
            (2, "booking.updated"),
            (3, "booking.status_changed"),
            (3, "booking.confirmed"),
            (4, "booking.status_changed"),
            (4, "booking.checked_in"),
            (5, "booking.status_changed"),
            (5, "booking.completed"),
        ],
        b.booking_id: [(1, "booking.created"), (2, "booking.status_changed"), (2, "booking.cancelled")],
    }
    for r in received:
        event = r.event
        assert r.key == event.booking_id == r.headers["ce_subject"]
        assert r.headers["ce_id"] == event.event_id
        assert r.headers["ce_type"] == event.type
        assert r.headers["ce_specversion"] == "1.0"
        assert r.headers["ce_source"] == "/booking-service"
        assert r.headers["ce_dataschema"] == DATA_SCHEMA
        assert r.headers["content-type"] == "application/protobuf"
        assert datetime.fromisoformat(r.headers["ce_time"]) == event.event_time.ToDatetime(tzinfo=NOW.tzinfo)
        assert event.booking.version == event.booking_version
    assert len({r.partition for r in received if r.key == a.booking_id}) == 1  # one booking, one partition
    created = next(
        r.event for r in received if r.event.booking_id == a.booking_id and r.event.type == "booking.created"
    )
    assert (created.actor, created.source, created.status) == (
        "front-desk",
        pb.CHANGE_SOURCE_API,
        S.BOOKING_STATUS_PENDING,
    )
    updated = next(r.event for r in received if r.event.type == "booking.updated")
    assert list(updated.change.changed_fields) == ["party_size"]
    cancelled = next(r.event for r in received if r.event.type == "booking.cancelled")
    assert (cancelled.previous_status, cancelled.status, cancelled.reason) == (
        S.BOOKING_STATUS_PENDING,
        S.BOOKING_STATUS_CANCELLED,
        "rain",
    )
    assert cancelled.booking.cancellation_reason == "rain"


async def test_a_reschedule_publishes_the_old_and_the_new_slot(world: EventWorld, new_booking: Make) -> None:
    world.start_relay()
    booking = await world.stub.CreateBooking(new_booking())
    request = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1, unit_id="table-9")
    request.start_time.FromDatetime(NOW + timedelta(days=3))
    request.end_time.FromDatetime(NOW + timedelta(days=3, hours=2))
    await world.stub.UpdateBooking(request)
    [_, updated] = await world.receive(count(2))
    change = updated.event.change
    assert list(change.changed_fields) == ["unit_id", "start_time", "end_time"]
    assert (change.previous_start_time, change.previous_end_time) == (booking.start_time, booking.end_time)
    assert change.previous_unit_id == booking.unit_id
    assert updated.event.booking.start_time == request.start_time


async def test_what_rolls_back_publishes_nothing(world: EventWorld, new_booking: Make) -> None:
    world.start_relay()
    mine = await world.stub.CreateBooking(new_booking())
    theirs = new_booking(start_time=NOW + timedelta(days=5), end_time=NOW + timedelta(days=5, hours=2))
    theirs.guest.guest_id = "their-guest"
    theirs_booking = await world.stub.CreateBooking(theirs)
    clash = pb.UpdateBookingRequest(booking_id=mine.booking_id, expected_version=1)
    clash.start_time.CopyFrom(theirs_booking.start_time)
    clash.end_time.CopyFrom(theirs_booking.end_time)
    for failing in (
        world.stub.UpdateBooking(clash),  # the slot is taken: the transaction rolls back
        world.stub.CreateBooking(new_booking()),  # the unit is taken
        world.stub.CancelBooking(pb.CancelBookingRequest(booking_id=mine.booking_id, expected_version=9)),
    ):
        with pytest.raises(grpc.aio.AioRpcError):
            await failing
    await world.stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=mine.booking_id, expected_version=1, party_size=3)
    )
    received = await world.receive(count(3))
    await asyncio.sleep(0.5)
    received = await world.receive(count(4), wait=1)
    assert per_booking(received) == {
        mine.booking_id: [(1, "booking.created"), (2, "booking.updated")],
        theirs_booking.booking_id: [(1, "booking.created")],
    }
    assert await unsent(world) == 0


async def test_events_wait_in_the_outbox_while_the_broker_is_down(
    private_database: str, settings, new_booking: Make, peers
) -> None:
    broker = EmbeddedKafka()
    try:
        async with event_world(private_database, settings, broker, peers) as world:
            world.start_relay(delivery_timeout=timedelta(seconds=1))
            first = await world.stub.CreateBooking(new_booking(unit_id=""))
            assert len(await world.receive(count(1))) == 1
            broker.set_down()
            bookings = [first]
            for _ in range(10):
                bookings.append(await world.stub.CreateBooking(new_booking(unit_id="")))
            for booking in bookings:
                await move(world, booking, S.BOOKING_STATUS_CONFIRMED)
            await asyncio.sleep(1.5)  # the relay tries, fails, keeps the rows
            assert await unsent(world) == 10 + 2 * 11
            broker.set_up()
            received = await world.receive(count(1 + 10 + 2 * 11), wait=60)
            order = per_booking(received)
            assert len(order) == 11
            for booking in bookings:
                assert order[booking.booking_id] == [
                    (1, "booking.created"),
                    (2, "booking.status_changed"),
                    (2, "booking.confirmed"),
                ]
            assert await unsent(world) == 0
    finally:
        broker.close()


async def test_two_relays_share_the_outbox_without_loss_or_reordering(
    world: EventWorld, new_booking: Make
) -> None:
    first = world.start_relay(max_partitions=8)
    second = world.start_relay(max_partitions=8)

    async def lifecycle(i: int) -> pb.Booking:
        start = NOW + timedelta(days=2, hours=i)  # one at a time: the venue's capacity is not the point
        booking = await world.stub.CreateBooking(
            new_booking(unit_id="", start_time=start, end_time=start + timedelta(hours=1))
        )
        booking = await world.stub.UpdateBooking(
            pb.UpdateBookingRequest(
                booking_id=booking.booking_id, expected_version=1, party_size=5 + i % 5
            )  # never 4: each update changes
        )
        booking = await move(world, booking, S.BOOKING_STATUS_CONFIRMED)
        return await move(world, booking, S.BOOKING_STATUS_CHECKED_IN)

    bookings = []
    for start in range(0, 180, 20):
        bookings += await asyncio.gather(*(lifecycle(i) for i in range(start, start + 20)))
        if start == 60:  # one relay dies half-way; a new one takes its partitions over
            await world.stop_relay(first)
            world.start_relay()
    expected = len(bookings) * 6
    assert expected >= 1000
    received = await world.receive(count(expected), wait=90)
    order = per_booking(received)
    got = {r.event.event_id for r in received}
    assert len(got) == expected  # every event, at least once
    for booking in bookings:
        assert order[booking.booking_id] == [
            (1, "booking.created"),
            (2, "booking.updated"),
            (3, "booking.status_changed"),
            (3, "booking.confirmed"),
            (4, "booking.status_changed"),
            (4, "booking.checked_in"),
        ]
    assert first.published > 0
    assert second.published > 0
    assert len(first.held & second.held) == 0


async def test_sweeps_expire_and_mark_no_shows_with_their_events(
    world: EventWorld, new_booking: Make
) -> None:
    world.start_relay()
    pending = await world.stub.CreateBooking(new_booking(unit_id=""))
    start = NOW + timedelta(hours=1)
    confirmed = await world.stub.CreateBooking(
        new_booking(unit_id="", start_time=start, end_time=start + timedelta(hours=2))
    )
    confirmed = await move(world, confirmed, S.BOOKING_STATUS_CONFIRMED)
    world.clock.advance(timedelta(minutes=16))
    assert await world.app.use_cases.sweep() == 1  # the pending one expired
    world.clock.advance(timedelta(hours=1))
    assert await world.app.use_cases.sweep() == 0  # 16 minutes past the start: within the grace
    world.clock.advance(timedelta(minutes=15))
    assert await world.app.use_cases.sweep() == 1  # past the grace: a no-show
    assert await world.app.use_cases.sweep() == 0
    received = await world.receive(count(8))
    order = per_booking(received)
    assert order[pending.booking_id][1:] == [(2, "booking.status_changed"), (2, "booking.expired")]
    assert order[confirmed.booking_id][-2:] == [(3, "booking.status_changed"), (3, "booking.no_show")]
    no_show = next(r.event for r in received if r.event.type == "booking.no_show")
    assert (no_show.source, no_show.actor) == (pb.CHANGE_SOURCE_SYSTEM, "booking-service")


async def test_a_sweep_and_a_confirm_racing_at_the_deadline_never_both_win(
    world: EventWorld, new_booking: Make, settings, peers
) -> None:
    from booking_service.bootstrap import bootstrap
    from tests.conftest import FakeClock

    bookings = [await world.stub.CreateBooking(new_booking(unit_id="")) for _ in range(30)]
    # The sweeper's replica thinks the deadline has passed; the confirming replica is a moment early.
    late = bootstrap(settings, world.database_url, peers, clock=FakeClock(NOW + timedelta(minutes=15)))
    world.clock.advance(timedelta(minutes=15) - timedelta(milliseconds=1))
    try:
        results = await asyncio.gather(
            late.use_cases.sweep(),
            *(move(world, b, S.BOOKING_STATUS_CONFIRMED) for b in bookings),
            return_exceptions=True,
        )
    finally:
        await late.aclose()
    confirms = results[1:]
    for booking, outcome in zip(bookings, confirms, strict=True):
        stored = await world.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
        moves = [(h.from_status, h.to_status) for h in stored.history][1:]
        if isinstance(outcome, pb.Booking):
            assert stored.status == S.BOOKING_STATUS_CONFIRMED
            assert moves == [(S.BOOKING_STATUS_PENDING, S.BOOKING_STATUS_CONFIRMED)]
        else:
            assert isinstance(outcome, grpc.aio.AioRpcError)
            assert outcome.code() in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION)
            assert stored.status == S.BOOKING_STATUS_EXPIRED
            assert moves == [(S.BOOKING_STATUS_PENDING, S.BOOKING_STATUS_EXPIRED)]
