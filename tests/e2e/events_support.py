"""Test support for events: a service with its own database, topic and relay, and a real consumer."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import asyncpg
import grpc
from booking.v1 import booking_pb2, booking_pb2_grpc
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.kafka.publisher import kafka_publisher
from booking_service.adapters.outbox_relay.relay import OutboxRelay, RelaySettings
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from tests.conftest import FakeClock


@dataclass
class Received:
    key: str
    headers: dict[str, str]
    event: booking_pb2.BookingEvent
    partition: int
    offset: int


@dataclass
class EventWorld:
    """A running service (gRPC), its relay, and the topic it publishes to."""

    app: Application
    stub: booking_pb2_grpc.BookingServiceAsyncStub
    clock: FakeClock
    kafka: EmbeddedKafka
    topic: str
    database_url: str
    relays: list[tuple[OutboxRelay, asyncio.Task[None]]] = field(default_factory=list)

    def start_relay(
        self, database_url: str = "", connect: Callable[..., Any] = asyncpg.connect, **settings: object
    ) -> OutboxRelay:
        relay_settings = replace(
            RelaySettings(topic=self.topic, poll_interval=timedelta(milliseconds=200)), **settings
        )
        publisher = kafka_publisher(self.kafka.bootstrap_servers, relay_settings)
        relay = OutboxRelay(database_url or self.database_url, publisher, relay_settings, connect=connect)
        self.relays.append((relay, asyncio.create_task(relay.run())))
        return relay

    async def stop_relay(self, relay: OutboxRelay) -> None:
        for known, task in self.relays:
            if known is relay:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    async with asyncio.timeout(30):  # a relay that ignores cancellation fails the test
                        await task

    async def receive(self, until: Callable[[list[Received]], bool], wait: float = 30) -> list[Received]:
        return await asyncio.to_thread(consume, self.kafka.bootstrap_servers, self.topic, until, wait)


@contextlib.asynccontextmanager
async def event_world(
    database_url: str, settings: Settings, kafka: EmbeddedKafka, peers: PeerUrls
) -> AsyncIterator[EventWorld]:
    clock = FakeClock()
    app = bootstrap(settings, database_url, peers, clock=clock)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    topic = f"booking.events.{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic, 4)
    world = EventWorld(app, booking_pb2_grpc.BookingServiceStub(channel), clock, kafka, topic, database_url)  # type: ignore[arg-type]
    try:
        yield world
    finally:
        for relay, _ in list(world.relays):
            await world.stop_relay(relay)
        await channel.close()
        await server.stop(0)
        await app.aclose()


def consume(
    bootstrap_servers: str, topic: str, until: Callable[[list[Received]], bool], timeout: float
) -> list[Received]:
    """Reads the topic from the beginning (every partition) until `until` holds or time runs out."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"test-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)])
        received: list[Received] = []
        deadline = time.monotonic() + timeout
        while not until(received) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            headers = {k: (v or b"").decode() for k, v in message.headers() or []}
            received.append(
                Received(
                    key=(message.key() or b"").decode(),
                    headers=headers,
                    event=booking_pb2.BookingEvent.FromString(message.value() or b""),
                    partition=message.partition(),
                    offset=message.offset(),
                )
            )
        return received
    finally:
        consumer.close()


def count(n: int) -> Callable[[list[Received]], bool]:
    """Until n distinct events arrived (delivery is at least once: repeats do not count)."""
    return lambda received: len({r.event.event_id for r in received}) >= n


def per_booking(received: list[Received]) -> dict[str, list[tuple[int, str]]]:
    """Each booking's (version, type) pairs in the order a consumer saw them, repeats removed."""
    seen: set[str] = set()
    order: dict[str, list[tuple[int, str]]] = {}
    for r in received:
        if r.event.event_id in seen:
            continue
        seen.add(r.event.event_id)
        order.setdefault(r.event.booking_id, []).append((r.event.booking_version, r.event.type))
    return order
