"""Lifecycle events through the transactional outbox to the machine's RabbitMQ server (EVENTS_BROKER=
rabbitmq): a durable topic exchange, routing key = event type, persistent messages with the
CloudEvents AMQP binding's headers, confirmed before a row is marked sent, in order per booking,
and waiting in the outbox while the broker is cut off or refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import aio_pika
import asyncpg
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.outbox_relay.publisher import DATA_SCHEMA
from booking_service.observability.metrics import REGISTRY
from tests.conftest import NOW
from tests.e2e.rabbitmq_support import (
    RabbitWorld,
    distinct,
    per_booking,
    proxy_before,
    rabbit_world,
    rabbitmq_url,
    through,
)

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus
CREATED_AND_CONFIRMED = [(1, "booking.created"), (2, "booking.status_changed"), (2, "booking.confirmed")]


@pytest.fixture
async def world(private_database: str, settings, peers) -> AsyncIterator[RabbitWorld]:
    async with rabbit_world(rabbitmq_url(), private_database, settings, peers) as running:
        yield running


async def move(world: RabbitWorld, booking: pb.Booking, status: int) -> pb.Booking:
    return await world.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=booking.version, status=status
        )
    )


async def unsent(world: RabbitWorld) -> int:
    conn = await asyncpg.connect(world.database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM booking_outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()


async def until_unsent(world: RabbitWorld, count: int, wait: float = 30) -> None:
    """Returns once `count` rows are unsent (fails after `wait` seconds)."""
    async with asyncio.timeout(wait):
        while True:
            if await unsent(world) == count:
                return
            await asyncio.sleep(0.1)


async def test_each_change_reaches_a_consumer_once_in_order_with_the_cloudevents_amqp_headers(
    world: RabbitWorld, new_booking: Make
) -> None:
    consumer = await world.consumer()
    cancels = await world.consumer("booking.cancelled")  # routing key = event type
    relay = world.start_relay()
    a = await world.stub.CreateBooking(new_booking(), metadata=(("x-actor", "front-desk"),))
    for status in (S.BOOKING_STATUS_CONFIRMED, S.BOOKING_STATUS_CHECKED_IN, S.BOOKING_STATUS_COMPLETED):
        a = await move(world, a, status)
    b = await world.stub.CreateBooking(new_booking(unit_id="other-table"))
    await world.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=b.booking_id, expected_version=1, reason="rain")
    )

    got = await consumer.until(distinct(10))
    await until_unsent(world, 0)
    assert len(got) == len({g.event.event_id for g in got}) == 10  # no repeats on a healthy broker
    assert per_booking(got) == {
        a.booking_id: [
            (1, "booking.created"),
            (2, "booking.status_changed"),
            (2, "booking.confirmed"),
            (3, "booking.status_changed"),
            (3, "booking.checked_in"),
            (4, "booking.status_changed"),
            (4, "booking.completed"),
        ],
        b.booking_id: [(1, "booking.created"), (2, "booking.status_changed"), (2, "booking.cancelled")],
    }
    for g in got:
        event = g.event
        assert g.routing_key == event.type == g.headers["cloudEvents_type"]
        assert g.message_id == event.event_id == g.headers["cloudEvents_id"]
        assert g.content_type == "application/protobuf"
        assert g.delivery_mode == 2  # persistent
        assert g.headers["cloudEvents_specversion"] == "1.0"
        assert g.headers["cloudEvents_source"] == "/booking-service"
        assert g.headers["cloudEvents_dataschema"] == DATA_SCHEMA
        assert g.headers["cloudEvents_subject"] == event.booking_id
        assert g.headers["cloudEvents_partitionkey"] == event.booking_id
        assert datetime.fromisoformat(g.headers["cloudEvents_time"]) == event.event_time.ToDatetime(
            tzinfo=NOW.tzinfo
        )
        assert not any(k.startswith("cloudEvents:") for k in g.headers)  # one separator per message
    assert [g.event.booking_id for g in await cancels.until(distinct(1), wait=2)] == [b.booking_id]
    assert relay.published == 10
    # The exchange is durable: declaring it as a transient one is refused.
    channel = await world.connection.channel()
    with pytest.raises(ChannelPreconditionFailed):
        await channel.declare_exchange(world.exchange, aio_pika.ExchangeType.TOPIC, durable=False)


async def test_events_wait_in_the_outbox_while_rabbitmq_is_cut_off(
    world: RabbitWorld, new_booking: Make
) -> None:
    consumer = await world.consumer()
    proxy = proxy_before(world.url)
    await proxy.start()
    try:
        world.start_relay(through(world.url, proxy.port), delivery_timeout=timedelta(seconds=1))
        first = await world.stub.CreateBooking(new_booking(unit_id=""))
        assert len(await consumer.until(distinct(1))) == 1
        proxy.cut()  # the relay's connection reset; new ones refused
        bookings = [first]
        for _ in range(10):
            bookings.append(await world.stub.CreateBooking(new_booking(unit_id="")))
        for booking in bookings:
            await move(world, booking, S.BOOKING_STATUS_CONFIRMED)
        await asyncio.sleep(2)  # the relay tries, fails, keeps the rows
        assert await unsent(world) == 10 + 2 * 11
        assert len(consumer.got) == 1
        proxy.mend()
        got = await consumer.until(distinct(1 + 10 + 2 * 11), wait=60)
        order = per_booking(got)
        assert len(order) == 11
        for booking in bookings:
            assert order[booking.booking_id] == CREATED_AND_CONFIRMED
        await until_unsent(world, 0)
    finally:
        await proxy.close()


async def test_events_wait_while_rabbitmq_goes_silent_and_go_once_it_answers(
    world: RabbitWorld, new_booking: Make
) -> None:
    """A broker that vanishes without a word (nothing passes, nothing closes): no confirmation comes
    within the delivery timeout, the rows stay unsent, and the relay's next connection publishes them."""
    consumer = await world.consumer()
    proxy = proxy_before(world.url)
    await proxy.start()
    try:
        relay = world.start_relay(through(world.url, proxy.port), delivery_timeout=timedelta(seconds=1))
        first = await world.stub.CreateBooking(new_booking(unit_id=""))
        await until_unsent(world, 0)
        proxy.hole()
        first = await move(world, first, S.BOOKING_STATUS_CONFIRMED)
        second = await world.stub.CreateBooking(new_booking(unit_id=""))
        await asyncio.sleep(3)  # a round times out waiting for its confirms, the next cannot connect
        assert await unsent(world) == 3
        assert relay.published == 1
        assert proxy.accepted >= 2  # the silent connection was given up, a new one tried
        proxy.mend()
        await until_unsent(world, 0, wait=60)
        got = await consumer.until(distinct(4))
        assert per_booking(got) == {
            first.booking_id: CREATED_AND_CONFIRMED,
            second.booking_id: [(1, "booking.created")],
        }
    finally:
        await proxy.close()


async def test_a_refused_message_holds_back_its_bookings_later_events_until_the_broker_takes_it(
    world: RabbitWorld, new_booking: Make
) -> None:
    """A full queue refuses what is routed to it (x-overflow reject-publish), and RabbitMQ nacks the
    publish. The row stays unsent, and so does every later row of its booking, even one the broker
    acknowledged; other bookings go on."""
    consumer = await world.consumer()
    channel = await world.connection.channel()
    exchange = await channel.get_exchange(world.exchange)
    refusing = await channel.declare_queue(
        exclusive=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    )
    await refusing.bind(exchange, routing_key="booking.status_changed")
    await channel.default_exchange.publish(aio_pika.Message(b"filler"), routing_key=refusing.name)
    a = await world.stub.CreateBooking(new_booking(unit_id=""))
    a = await move(world, a, S.BOOKING_STATUS_CONFIRMED)  # status_changed (refused), confirmed
    b = await world.stub.CreateBooking(new_booking(unit_id=""))
    counted = "booking_outbox_events_not_delivered_total"
    not_delivered = REGISTRY.get_sample_value(counted) or 0.0
    relay = world.start_relay(delivery_timeout=timedelta(seconds=2))
    await asyncio.sleep(2)  # a round or more: a's status_changed nacked, its confirmed acked
    assert await unsent(world) == 2  # a's status_changed, and its confirmed behind it
    # counted, each round it is tried again (the metric README tells operators to watch)
    assert (REGISTRY.get_sample_value(counted) or 0.0) >= not_delivered + 2
    assert relay.published == 2  # a's created, b's created
    await refusing.delete(if_unused=False, if_empty=False)
    await until_unsent(world, 0)
    assert relay.published == 4
    got = await consumer.until(distinct(4))
    assert per_booking(got) == {a.booking_id: CREATED_AND_CONFIRMED, b.booking_id: [(1, "booking.created")]}


async def test_two_relays_share_the_outbox_without_loss_or_reordering(
    world: RabbitWorld, new_booking: Make
) -> None:
    consumer = await world.consumer()
    first = world.start_relay(max_partitions=8)
    second = world.start_relay(max_partitions=8)

    async def lifecycle(i: int) -> pb.Booking:
        start = NOW + timedelta(days=2, hours=i)
        booking = await world.stub.CreateBooking(
            new_booking(unit_id="", start_time=start, end_time=start + timedelta(hours=1))
        )
        booking = await move(world, booking, S.BOOKING_STATUS_CONFIRMED)
        return await move(world, booking, S.BOOKING_STATUS_CHECKED_IN)

    bookings = []
    for start in range(0, 120, 20):
        bookings += await asyncio.gather(*(lifecycle(i) for i in range(start, start + 20)))
        if start == 40:  # one relay stops half-way; a new one takes its partitions over
            await world.stop_relay(first)
            world.start_relay()
    expected = len(bookings) * 5
    got = await consumer.until(distinct(expected), wait=90)
    assert len({g.event.event_id for g in got}) == expected  # every event, at least once
    order = per_booking(got)
    for booking in bookings:
        assert order[booking.booking_id] == [
            *CREATED_AND_CONFIRMED,
            (3, "booking.status_changed"),
            (3, "booking.checked_in"),
        ]
    assert first.published > 0
    assert second.published > 0
    assert len(first.held & second.held) == 0
    await until_unsent(world, 0)
