"""The events side of the service: the broker (configured or embedded), the outbox relay, and
`booking-service events tail`, a consumer that prints decoded events for debugging."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from booking.v1 import events_pb2
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, Producer, TopicPartition
from google.protobuf import json_format

from booking_service.adapters.database import open_session
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.kafka.relay import OutboxRelay, RelaySettings, producer_config
from booking_service.bootstrap import session_limits
from booking_service.config import Settings

log = logging.getLogger("booking_service")
TOPIC_PARTITIONS = 4


def address_file(settings: Settings) -> Path:
    """Where `serve` writes the embedded broker's address, for `events tail` and kcat."""
    return settings.data_dir / "kafka.address"


@contextlib.asynccontextmanager
async def events_broker(settings: Settings) -> AsyncIterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, or an embedded broker's address while it runs."""
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    broker = EmbeddedKafka()
    try:
        broker.create_topic(settings.events_topic, TOPIC_PARTITIONS)
        path = address_file(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(broker.bootstrap_servers + "\n")
        log.warning(
            "KAFKA_BOOTSTRAP_SERVERS is not set: events go to an embedded broker (in memory)",
            extra={
                "bootstrap_servers": broker.bootstrap_servers,
                "topic": settings.events_topic,
                "try": f"kcat -b {broker.bootstrap_servers} -t {settings.events_topic} -C",
            },
        )
        yield broker.bootstrap_servers
    finally:
        broker.close()


def build_relay(settings: Settings, database_url: str, bootstrap_servers: str) -> OutboxRelay:
    """The relay on a session of its own (Settings.session_url: its advisory locks and LISTEN stay
    with that session), held to the service's limits; ConfigError as session_url raises it."""
    relay_settings = RelaySettings(
        topic=settings.events_topic,
        delivery_timeout=settings.events_delivery_timeout,
        retention=settings.outbox_retention,
    )
    # The embedded broker speaks plaintext only: the security settings are for the configured one.
    security = settings.kafka_security if settings.kafka_bootstrap_servers else None
    producer = Producer(producer_config(bootstrap_servers, relay_settings.delivery_timeout, security))
    connect = functools.partial(
        open_session,
        limits=session_limits(settings),
        application="booking-service-relay",
        # Behind PgBouncer (DATABASE_SESSION_URL may be a session-mode pool) the limits are SET.
        startup=not settings.db_transaction_pooling,
    )
    return OutboxRelay(settings.session_url(database_url), producer, relay_settings, connect=connect)


def tail(
    settings: Settings,
    *,
    bootstrap_servers: str | None,
    from_beginning: bool,
    max_messages: int | None,
    idle_timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    """Prints the topic's events as JSON lines (headers, key, decoded BookingEvent) until stopped."""
    servers = bootstrap_servers or settings.kafka_bootstrap_servers
    embedded = False  # the embedded broker speaks plaintext: the security settings are for real ones
    if not servers and address_file(settings).is_file():
        servers, embedded = address_file(settings).read_text().strip(), True
    if not servers:
        print("No broker: pass --bootstrap-servers, or set KAFKA_BOOTSTRAP_SERVERS.", file=sys.stderr)
        return 2
    consumer = Consumer(
        {
            **({} if embedded else settings.kafka_security.client_config()),
            "bootstrap.servers": servers,
            "group.id": f"booking-events-tail-{uuid.uuid4()}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
            "logger": logging.getLogger("booking_service.kafka"),
        }
    )
    # Every partition, assigned directly: no consumer-group join to wait for.
    topic = consumer.list_topics(settings.events_topic, timeout=10).topics[settings.events_topic]
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(settings.events_topic, p, start) for p in sorted(topic.partitions)])
    seen, idle = 0, 0.0
    try:
        while max_messages is None or seen < max_messages:
            message = consumer.poll(0.5)
            if message is None:
                idle += 0.5
                if idle_timeout is not None and idle >= idle_timeout:
                    break
                continue
            if message.error():
                raise KafkaException(message.error())
            idle = 0.0
            event = events_pb2.BookingEvent.FromString(message.value() or b"")
            line = {
                "partition": message.partition(),
                "offset": message.offset(),
                "key": (message.key() or b"").decode(),
                "headers": _headers(message.headers()),
                "event": json_format.MessageToDict(event, preserving_proto_field_name=True),
            }
            print(json.dumps(line), file=out, flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


def _headers(headers: Any) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, dict) else (headers or [])
    return {str(k): v.decode(errors="replace") if isinstance(v, bytes) else str(v or "") for k, v in pairs}
