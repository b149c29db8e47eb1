"""Test support for events on RabbitMQ: the machine's RabbitMQ server (127.0.0.1:5672, guest/guest;
RABBITMQ_TEST_URL names another), a service whose relays publish to an exchange of the test's own,
and a real consumer on a queue of its own bound to it.

Where no RabbitMQ answers, the tests skip, unless BOOKING_TEST_REQUIRES names `rabbitmq` (`.ci/run`
does): then they fail. Each test has its own exchange (`booking.events.test-<random>`, deleted at
the end) and exclusive queues, so tests, and other users of the server, never see each other's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import grpc
from aio_pika.abc import AbstractIncomingMessage
from booking.v1 import booking_pb2, booking_pb2_grpc

from booking_service.adapters.outbox_relay.relay import OutboxRelay, RelaySettings
from booking_service.adapters.rabbitmq.publisher import rabbit_publisher
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.entrypoints.grpc.server import GrpcServer
from tests.conftest import FakeClock, missing_server
from tests.e2e.tcp_proxy import TcpProxy

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def rabbitmq_url() -> str:
    """The test server's URL; skips the test (fails it, when required) where nothing listens."""
    url = os.environ.get("RABBITMQ_TEST_URL", DEFAULT_URL)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        missing_server("rabbitmq", f"no RabbitMQ listens on {host}:{port} (RABBITMQ_TEST_URL)")
    return url


def proxy_before(url: str) -> TcpProxy:
    """A TCP proxy (not started) in front of the server `url` names."""
    parts = urlsplit(url)
    return TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)


def through(url: str, port: int) -> str:
    """`url` (credentials, vhost) pointed at 127.0.0.1:`port`: a proxy in front of the server."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}").geturl()


@dataclass
class Got:
    routing_key: str
    headers: dict[str, str]
    message_id: str | None
    content_type: str | None
    delivery_mode: int
    event: booking_pb2.BookingEvent


class Consumer:
    """A queue of its own (exclusive, server-named) bound to the exchange, read as it fills."""

    def __init__(self) -> None:
        self.got: list[Got] = []
        self._arrived = asyncio.Event()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        headers = {
            k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (message.headers or {}).items()
        }
        self.got.append(
            Got(
                message.routing_key or "",
                headers,
                message.message_id,
                message.content_type,
                int(message.delivery_mode or 0),
                booking_pb2.BookingEvent.FromString(message.body),
            )
        )
        self._arrived.set()

    async def until(self, done: Callable[[list[Got]], bool], wait: float = 30) -> list[Got]:
        """What arrived once `done` holds, or when `wait` seconds have passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                while not done(self.got):
                    self._arrived.clear()
                    await self._arrived.wait()
        return list(self.got)


@dataclass
class RabbitWorld:
    """A running service (gRPC), its relays, the exchange they publish to, and a direct connection."""

    app: Application
    stub: booking_pb2_grpc.BookingServiceAsyncStub
    clock: FakeClock
    url: str
    exchange: str
    database_url: str
    connection: aio_pika.abc.AbstractConnection
    relays: list[tuple[OutboxRelay, asyncio.Task[None]]] = field(default_factory=list)

    def start_relay(self, url: str = "", **settings: Any) -> OutboxRelay:
        relay_settings = replace(
            RelaySettings(topic=self.exchange, poll_interval=timedelta(milliseconds=200)), **settings
        )
        publisher = rabbit_publisher(url or self.url, relay_settings)
        relay = OutboxRelay(self.database_url, publisher, relay_settings)
        self.relays.append((relay, asyncio.create_task(relay.run())))
        return relay

    async def stop_relay(self, relay: OutboxRelay) -> None:
        for known, task in self.relays:
            if known is relay:
                relay.close()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    async with asyncio.timeout(30):
                        await task

    async def consumer(self, routing_key: str = "#", **arguments: Any) -> Consumer:
        """A consumer on a new exclusive queue bound with `routing_key` (queue `arguments` such as
        x-max-length), declaring the exchange as the relay does if it is not there yet."""
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, arguments=arguments or None)
        await queue.bind(exchange, routing_key=routing_key)
        consumer = Consumer()
        await queue.consume(consumer.on_message, no_ack=True)
        return consumer


@contextlib.asynccontextmanager
async def rabbit_world(
    url: str, database_url: str, settings: Settings, peers: PeerUrls
) -> AsyncIterator[RabbitWorld]:
    clock = FakeClock()
    app = bootstrap(settings, database_url, peers, clock=clock)
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    connection = await aio_pika.connect(url)
    exchange = f"booking.events.test-{uuid.uuid4().hex[:10]}"
    world = RabbitWorld(
        app,
        booking_pb2_grpc.BookingServiceStub(channel),  # type: ignore[arg-type]
        clock,
        url,
        exchange,
        database_url,
        connection,
    )
    try:
        yield world
    finally:
        for relay, _ in list(world.relays):
            await world.stop_relay(relay)
        with contextlib.suppress(Exception):
            cleanup = await connection.channel()
            await cleanup.exchange_delete(exchange)
        await connection.close()
        await channel.close()
        await server.stop(0)
        await app.aclose()


def distinct(n: int) -> Callable[[list[Got]], bool]:
    """Until n distinct events arrived (delivery is at least once: repeats do not count)."""
    return lambda got: len({g.event.event_id for g in got}) >= n


def per_booking(got: list[Got]) -> dict[str, list[tuple[int, str]]]:
    """Each booking's (version, type) pairs in the order the consumer saw them, repeats removed."""
    seen: set[str] = set()
    order: dict[str, list[tuple[int, str]]] = {}
    for g in got:
        if g.event.event_id not in seen:
            seen.add(g.event.event_id)
            order.setdefault(g.event.booking_id, []).append((g.event.booking_version, g.event.type))
    return order
