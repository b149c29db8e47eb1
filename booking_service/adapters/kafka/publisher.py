"""The outbox relay's Kafka publisher (confluent-kafka): acks=all, an idempotent producer, the booking
id as the message key (one booking's events share a Kafka partition and its order), the CloudEvents
Kafka binding's headers (binary mode) and the W3C trace headers of the event's producer span."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from booking_service.adapters.kafka.security import KafkaSecurity
from booking_service.adapters.outbox_relay.publisher import (
    CONTENT_TYPE,
    Row,
    cloud_event_attributes,
    in_booking_order,
)
from booking_service.adapters.outbox_relay.relay import RelaySettings
from booking_service.observability.tracing import ProducerSpan, producer_span


def producer_config(
    bootstrap_servers: str, delivery_timeout: timedelta, security: KafkaSecurity | None = None
) -> dict[str, Any]:
    """The relay producer's librdkafka settings; `security`: TLS and SASL (security.py)."""
    return {
        **(security or KafkaSecurity()).client_config(),
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,  # with acks=all: no duplicates or reordering from retries
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(delivery_timeout.total_seconds() * 1000),
        "client.id": "booking-service-outbox-relay",
        "logger": logging.getLogger("booking_service.kafka"),
    }


def kafka_publisher(
    bootstrap_servers: str, settings: RelaySettings, security: KafkaSecurity | None = None
) -> KafkaPublisher:
    """The relay's publisher to the Kafka brokers at `bootstrap_servers` (the topic: settings.topic)."""
    producer = Producer(producer_config(bootstrap_servers, settings.delivery_timeout, security))
    return KafkaPublisher(producer, settings.topic, settings.source, settings.delivery_timeout)


class KafkaPublisher:
    def __init__(self, producer: Producer, topic: str, source: str, delivery_timeout: timedelta) -> None:
        self._producer, self._topic, self._source = producer, topic, source
        self._delivery_timeout = delivery_timeout
        self._closing = threading.Event()

    async def prepare(self) -> None:
        """Nothing to declare: the topic is the cluster's (the embedded broker's: events.py)."""

    async def publish(self, rows: Sequence[Row]) -> list[int]:
        return await asyncio.to_thread(self._publish, rows)

    def close(self) -> None:
        """What the broker has not acknowledged is dropped from the producer's queue (a flush waited
        its delivery timeout, in a thread the process waited for at exit)."""
        self._closing.set()
        with contextlib.suppress(Exception):
            self._producer.purge()

    async def aclose(self) -> None:
        """Nothing to release: the producer's queue was purged by close()."""

    def _publish(self, rows: Sequence[Row]) -> list[int]:
        """Produces the rows and waits for the broker (in a thread)."""
        outcome: dict[int, KafkaError | str | None] = {}
        topic = self._topic
        spans: list[ProducerSpan] = []
        for row in rows:
            span = producer_span(topic, str(row["event_id"]), str(row["booking_id"]), row["trace_context"])
            spans.append(span)
            headers = [*self._headers(row), *span.headers]

            def delivered(
                error: KafkaError | None, _: Message, row_id: int = row["id"], span: ProducerSpan = span
            ) -> None:
                outcome[row_id] = error
                span.end(error)

            while True:
                try:
                    self._producer.produce(
                        topic,
                        key=str(row["booking_id"]).encode(),
                        value=bytes(row["payload"]),
                        headers=headers,
                        on_delivery=delivered,
                    )
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
        # Bounded: a message the broker has not acknowledged within its delivery timeout fails (and is
        # retried next round); and a relay that is closing stops waiting at once (close()): the
        # rows not acknowledged stay unsent, for the next round or the next start.
        give_up = time.monotonic() + self._delivery_timeout.total_seconds() + 5
        while self._producer.flush(0.2) > 0:
            if self._closing.is_set() or time.monotonic() > give_up:
                break
        for span in spans:
            span.end("no delivery report")  # those reported have ended already
        return in_booking_order(rows, outcome)

    def _headers(self, row: Row) -> list[tuple[str, str | bytes | None]]:
        return [(name, value.encode()) for name, value in kafka_headers(row, self._source)]


def kafka_headers(row: Row, source: str) -> list[tuple[str, str]]:
    """The CloudEvents Kafka binding of an outbox row, binary mode (`partitionkey` is the message
    key); the trace headers go beside them. The AsyncAPI document describes these."""
    attributes = cloud_event_attributes(row, source)
    del attributes["partitionkey"]
    return [*((f"ce_{name}", value) for name, value in attributes.items()), ("content-type", CONTENT_TYPE)]
