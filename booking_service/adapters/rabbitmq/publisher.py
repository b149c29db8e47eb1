"""The outbox relay's RabbitMQ publisher (aio-pika, AMQP 0-9-1).

- The exchange is a durable topic exchange named like the Kafka topic (BOOKING_EVENTS_TOPIC,
  `booking.events`), declared at each connection (the first when the relay starts); the routing key
  is the event type (`booking.created`, `booking.status_changed`, ...), so consumers bind
  `booking.#`, `#` or one type.
- Messages are persistent (delivery mode 2) and carry the CloudEvents AMQP binding in binary mode:
  the attributes as `cloudEvents_*` headers (the `_` separator the binding prefers, for JMS
  clients), the data's content type as the `content_type` property (application/protobuf), the
  event id as `message_id`, and the booking id as `cloudEvents_partitionkey` (and
  `cloudEvents_subject`), with the W3C trace headers of the event's producer span.
- One channel with publisher confirms: RabbitMQ routes a channel's messages in the order they were
  published and confirms each (ack, or nack when a queue refuses it). A row counts as published only
  on its ack; a nack, no confirmation within EVENTS_DELIVERY_TIMEOUT_SECONDS, or a lost connection
  fails it and, by in_booking_order, every later row of its booking in the batch.
- Not `mandatory`: a message no queue is bound for is acknowledged and dropped, as a topic
  exchange's publisher does not know its subscribers. Were it mandatory, a type no consumer binds
  would be returned forever, and that booking's later events would wait behind it in the outbox.
  A consumer that must not miss events binds a durable queue before they are published (README).
- Its own reconnection, not aio-pika's robust connection (which does not replay what failed): with
  no connection, each round connects anew (bounded by the delivery timeout); a failed connection is
  dropped after the round, and the rows wait in the outbox for the relay's next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange
from aio_pika.exceptions import (
    ChannelClosed,
    ChannelPreconditionFailed,
    DeliveryError,
    ProbableAuthenticationError,
    ProtocolSyntaxError,
)

from booking_service.adapters.outbox_relay.publisher import (
    CONTENT_TYPE,
    Row,
    cloud_event_attributes,
    in_booking_order,
)
from booking_service.adapters.outbox_relay.relay import RelaySettings
from booking_service.observability.tracing import producer_span

log = logging.getLogger("booking_service.relay")
#: The CloudEvents AMQP binding's prefix of attribute headers (3.1.3.1: `_` preferred over `:`).
PREFIX = "cloudEvents_"
APP_ID = "booking-service"
#: Persistent messages (delivery mode 2), not `mandatory` (see above).
DELIVERY_MODE = aio_pika.DeliveryMode.PERSISTENT
MANDATORY = False


def where(url: str) -> str:
    """host:port/vhost of an amqp:// URL, for logs and messages (never its credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (5671 if parts.scheme == 'amqps' else 5672)}{parts.path or '/'}"


async def open_exchange(
    url: str, name: str, *, step_seconds: float, connection_name: str
) -> tuple[AbstractConnection, AbstractExchange]:
    """A connection, a channel with publisher confirms and the durable topic exchange `name`
    (declared); each step bounded by `step_seconds`."""
    connection = await aio_pika.connect(
        url, timeout=step_seconds, client_properties={"connection_name": connection_name}
    )
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, durable=True, timeout=step_seconds
        )
    except BaseException:
        with contextlib.suppress(Exception):
            await connection.close()
        raise
    return connection, exchange


class BrokerRefused(Exception):
    """RabbitMQ answered and refused what RABBITMQ_URL or the exchange asks: the credentials, the
    vhost, or the exchange (one by that name, but not a durable topic exchange). No retry mends
    that: a setting must change."""


async def check_broker(url: str, exchange: str, wait_seconds: float) -> bool:
    """Connects once and declares the exchange, as the relay will: True if that worked, False (and
    a warning) if the broker did not answer within `wait_seconds` (events wait in the outbox until it
    does); BrokerRefused if it answered with a refusal."""
    try:
        async with asyncio.timeout(wait_seconds):
            connection, _ = await open_exchange(
                url, exchange, step_seconds=wait_seconds, connection_name="booking-service-check"
            )
    except ProbableAuthenticationError as exc:
        raise BrokerRefused(
            f"RabbitMQ at {where(url)} refused the login: {exc.args[0] if exc.args else exc}"
        ) from None
    except ProtocolSyntaxError as exc:  # the vhost: the broker closes the connection instead of opening it
        raise BrokerRefused(
            f"RabbitMQ at {where(url)} refused the connection (is the vhost there, and open to this "
            f"user?): {exc}"
        ) from None
    except ChannelPreconditionFailed as exc:
        raise BrokerRefused(
            f"RabbitMQ at {where(url)} has an exchange {exchange} that is not a durable topic exchange: {exc}"
        ) from None
    except ChannelClosed as exc:  # ACCESS_REFUSED, typically: the user may not declare it
        raise BrokerRefused(f"RabbitMQ at {where(url)} refused the exchange {exchange}: {exc}") from None
    except Exception as exc:
        log.warning(
            "RabbitMQ does not answer: events wait in the outbox until it does",
            extra={"broker": where(url), "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return False
    await _close(connection)
    return True


async def _close(connection: AbstractConnection) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2):
            await connection.close()


def rabbit_publisher(url: str, settings: RelaySettings) -> RabbitPublisher:
    """The relay's publisher to the RabbitMQ at `url` (the exchange: settings.topic)."""
    return RabbitPublisher(url, settings.topic, settings.source, settings.delivery_timeout)


class RabbitPublisher:
    def __init__(self, url: str, exchange: str, source: str, delivery_timeout: timedelta) -> None:
        self._url, self._exchange_name, self._source = url, exchange, source
        self._timeout = delivery_timeout.total_seconds()
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._closing = asyncio.Event()
        self._closing_connections: set[asyncio.Task[None]] = set()

    async def prepare(self) -> None:
        await self._ready()

    async def publish(self, rows: Sequence[Row]) -> list[int]:
        if self._closing.is_set():
            return []
        exchange = await self._ready()
        if exchange is None:
            return []
        outcome: dict[int, object | None] = {}
        sends: list[asyncio.Task[object]] = []
        for row in rows:  # created in order: aiormq sends a channel's publishes under a FIFO lock
            sends.append(asyncio.create_task(self._send(exchange, row, outcome)))
        waiting: asyncio.Future[Any] = asyncio.gather(*sends, return_exceptions=True)
        closing: asyncio.Future[Any] = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({waiting, closing}, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            for send in sends:
                send.cancel()  # unconfirmed in time: failed (no outcome), retried next round
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
        if len(outcome) < len(rows) or any(
            e is not None and not isinstance(e, DeliveryError) for e in outcome.values()
        ):
            await self._drop(wait=False)  # a channel that failed or withheld confirms is not trusted
        return in_booking_order(rows, outcome)

    async def _send(self, exchange: AbstractExchange, row: Row, outcome: dict[int, object | None]) -> None:
        routing_key = row["event_type"]
        span = producer_span(
            self._exchange_name,
            str(row["event_id"]),
            str(row["booking_id"]),
            row["trace_context"],
            routing_key=routing_key,
        )
        headers = amqp_headers(row, self._source)
        headers.update((name, value.decode()) for name, value in span.headers)
        message = aio_pika.Message(
            bytes(row["payload"]),
            headers=headers,  # type: ignore[arg-type]  # (a str is a header value; the alias is invariant)
            content_type=CONTENT_TYPE,
            delivery_mode=DELIVERY_MODE,
            message_id=str(row["event_id"]),
            timestamp=row["occurred_at"],
            type=routing_key,
            app_id=APP_ID,
        )
        error: object | None = None
        try:
            await exchange.publish(message, routing_key=routing_key, mandatory=MANDATORY)
        except asyncio.CancelledError:
            span.end("no confirmation")
            raise
        except Exception as exc:  # a nack (DeliveryError), or the channel or connection lost
            error = exc
        outcome[row["id"]] = error
        span.end(error)

    async def _ready(self) -> AbstractExchange | None:
        """The exchange on an open connection, connecting first if needed; None (logged) while the
        broker cannot be reached or refuses."""
        if self._connection is not None and not self._connection.is_closed and self._exchange is not None:
            return self._exchange
        await self._drop()
        try:
            async with asyncio.timeout(self._timeout):
                self._connection, self._exchange = await open_exchange(
                    self._url,
                    self._exchange_name,
                    step_seconds=self._timeout,
                    connection_name="booking-service-outbox-relay",
                )
        except Exception as exc:
            log.warning(
                "RabbitMQ unavailable: events wait in the outbox",
                extra={"broker": where(self._url), "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return None
        log.info("connected to RabbitMQ", extra={"broker": where(self._url), "exchange": self._exchange_name})
        return self._exchange

    async def _drop(self, *, wait: bool = True) -> None:
        """Forgets the connection and closes it: at once, or (not `wait`: it may be one the broker
        went silent on) in the background, bounded, so the relay's next round need not wait."""
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is None:
            return
        closing = asyncio.create_task(_close(connection))
        if wait:
            await closing
        else:
            self._closing_connections.add(closing)
            closing.add_done_callback(self._closing_connections.discard)

    def close(self) -> None:
        self._closing.set()

    async def aclose(self) -> None:
        self._closing.set()
        await self._drop()
        await asyncio.gather(*self._closing_connections, return_exceptions=True)


def amqp_headers(row: Row, source: str) -> dict[str, str]:
    """The CloudEvents AMQP binding's headers of an outbox row, binary mode (the content type is the
    message's content_type property); the trace headers go beside them. The AsyncAPI document
    describes these."""
    return {f"{PREFIX}{name}": value for name, value in cloud_event_attributes(row, source).items()}
