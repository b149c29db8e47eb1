"""`booking-service events tail` on RabbitMQ (EVENTS_BROKER=rabbitmq, or --rabbitmq-url): a queue of
its own (server-named, exclusive: it goes when the command ends), bound to the events exchange with
`#` (every event type), its messages printed as JSON lines like Kafka's (headers, key, decoded
BookingEvent) and acknowledged by the broker as they are delivered.

RabbitMQ keeps no history for a new queue: the tail prints what is published after it bound its
queue, so `--from-beginning` is refused here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Any, TextIO

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity
from booking.v1 import booking_pb2
from google.protobuf import json_format

from booking_service.adapters.rabbitmq.publisher import PREFIX, where
from booking_service.config import ConfigError, Settings
from booking_service.entrypoints.events import BrokerUnavailable

log = logging.getLogger("booking_service")
#: The binding of the tail's queue: every routing key (event type).
EVERY_TYPE = "#"


def refuse_from_beginning() -> None:
    raise ConfigError(
        "--from-beginning reads a Kafka topic's history; RabbitMQ keeps none for a new queue "
        "(events tail binds a queue of its own and prints the events published after that)"
    )


def tail(
    settings: Settings,
    *,
    url: str,
    source: str,
    max_messages: int | None,
    idle_timeout: float | None,
    timeout: float,
    out: TextIO = sys.stdout,
) -> int:
    """Prints the exchange's events until stopped, `max_messages` are printed, or none came for
    `idle_timeout` seconds; BrokerUnavailable when the broker does not answer within `timeout`
    seconds, has no such exchange, or is lost while read."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(settings.events_topic, url, source, max_messages, idle_timeout, timeout, out))
    return 0


async def _tail(
    exchange_name: str,
    url: str,
    source: str,
    max_messages: int | None,
    idle_timeout: float | None,
    wait_seconds: float,
    out: TextIO,
) -> None:
    broker = where(url)
    inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    connection = None
    try:
        try:
            async with asyncio.timeout(wait_seconds):
                connection = await aio_pika.connect(
                    url, timeout=wait_seconds, client_properties={"connection_name": "booking-service-tail"}
                )
                channel = await connection.channel()
                exchange = await channel.get_exchange(exchange_name, ensure=True)
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(exchange, routing_key=EVERY_TYPE)
                await queue.consume(inbox.put, no_ack=True)
        except ChannelNotFoundEntity:
            raise BrokerUnavailable(
                f"the broker at {broker} has no exchange {exchange_name}: check BOOKING_EVENTS_TOPIC, or "
                "start `booking-service serve` on this broker once (its relay declares the exchange)"
            ) from None
        except (TimeoutError, OSError, AMQPError) as error:
            why = f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__
            raise BrokerUnavailable(
                f"no RabbitMQ broker answered at {broker} within {wait_seconds:g} s ({source}; {why}): "
                "check RABBITMQ_URL (host, credentials, vhost) and that the broker runs; or wait longer "
                "with --timeout SECONDS"
            ) from None

        def on_close(_: object, error: BaseException | None = None) -> None:
            if not lost.done():
                lost.set_result(f"{type(error).__name__}: {error}" if error else "the connection closed")

        connection.close_callbacks.add(on_close)
        log.info(
            "reading the events exchange",
            extra={"broker": broker, "exchange": exchange_name, "binding": EVERY_TYPE},
        )
        await _print_events(inbox, lost, broker, max_messages, idle_timeout, out)
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await connection.close()


async def _print_events(
    inbox: asyncio.Queue[AbstractIncomingMessage],
    lost: asyncio.Future[Any],
    broker: str,
    max_messages: int | None,
    idle_timeout: float | None,
    out: TextIO,
) -> None:
    loop = asyncio.get_running_loop()
    seen, last_event = 0, loop.time()
    while max_messages is None or seen < max_messages:
        left = None if idle_timeout is None else max(0.0, idle_timeout - (loop.time() - last_event))
        getting: asyncio.Future[Any] = asyncio.ensure_future(inbox.get())
        done, _ = await asyncio.wait({getting, lost}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        if getting not in done:
            getting.cancel()
            if lost.done():
                raise BrokerUnavailable(
                    f"lost the RabbitMQ broker at {broker} ({lost.result()}): check that the broker runs "
                    "and this machine reaches it, and run events tail again"
                )
            return  # idle for idle_timeout seconds
        message = getting.result()
        last_event = loop.time()
        print(json.dumps(_line(message)), file=out, flush=True)
        seen += 1


def _line(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = {k: _text(v) for k, v in (message.headers or {}).items()}
    event = booking_pb2.BookingEvent.FromString(message.body)
    return {
        "routing_key": message.routing_key,
        "key": headers.get(f"{PREFIX}partitionkey", ""),
        "message_id": message.message_id,
        "content_type": message.content_type,
        "headers": headers,
        "event": json_format.MessageToDict(event, preserving_proto_field_name=True),
    }


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
