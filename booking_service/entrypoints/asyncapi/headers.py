"""The headers of the events on each broker, as the AsyncAPI document describes them (document.py).

They are the publishers' own (kafka_headers, adapters/kafka/publisher.py; amqp_headers,
adapters/rabbitmq/publisher.py), made for a sample outbox row: the document describes what a row is
published with, and a header a publisher adds without a word here fails the build. Both carry the
W3C trace context beside them when the change was traced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from booking_service.adapters.kafka.publisher import kafka_headers
from booking_service.adapters.rabbitmq.publisher import PREFIX, amqp_headers
from booking_service.domain.events import EVENT_TYPES
from booking_service.observability.tracing import TRACE_HEADERS

KAFKA_PREFIX = "ce_"
AMQP_PREFIX = PREFIX
#: What each CloudEvents attribute says.
ATTRIBUTES = {
    "specversion": "The CloudEvents version.",
    "id": "The event id, the payload's `event_id`: the same on every delivery; deduplicate by it.",
    "source": "The service that wrote the event.",
    "type": "The event type, the payload's `type`.",
    "time": "When the change happened, the payload's `event_time` (RFC 3339, UTC).",
    "subject": "The booking the event is about, the payload's `booking_id`.",
    "dataschema": "The protobuf message the data is (a serialized booking.v1.BookingEvent).",
    "partitionkey": "The booking id (CloudEvents Partitioning): one booking's events keep their order.",
}
OTHER_HEADERS = {
    "content-type": "The data's content type: a serialized booking.v1.BookingEvent (binary protobuf).",
}
TRACE = {
    "traceparent": "The W3C trace context of the change's producer span, when the change was traced.",
    "tracestate": "The W3C trace state, beside traceparent, when there is one.",
}


def kafka(row: Mapping[str, Any], source: str) -> dict[str, str]:
    """The headers the relay publishes an outbox row with on Kafka (the trace headers aside)."""
    return dict(kafka_headers(row, source))


def amqp(row: Mapping[str, Any], source: str) -> dict[str, str]:
    """The headers the relay publishes an outbox row with on RabbitMQ (the trace headers aside)."""
    return amqp_headers(row, source)


def schema(example: dict[str, str], other: dict[str, str], prefix: str) -> dict[str, Any]:
    """The headers of `example` as a schema, `other` being another event's: a value that is the same
    for both is a constant (the relay's settings), the event type one of EVENT_TYPES, a time a
    date-time, an id a UUID. Each is required; the trace headers are optional."""
    properties: dict[str, Any] = {}
    for name, value in example.items():
        attribute = name.removeprefix(prefix)
        description = ATTRIBUTES[attribute] if name.startswith(prefix) else OTHER_HEADERS[name]
        if attribute == "type":
            described: dict[str, Any] = {"type": "string", "enum": list(EVENT_TYPES)}
        elif value == other[name]:
            described = {"type": "string", "const": value}
        elif attribute == "time":
            described = {"type": "string", "format": "date-time"}
        else:
            described = {"type": "string", "format": "uuid"}
        properties[name] = {**described, "description": description}
    for name in TRACE_HEADERS:
        properties[name] = {"type": "string", "description": TRACE[name]}
    return {"type": "object", "required": list(example), "properties": properties}
