"""The headers of the events on each broker, as the AsyncAPI document describes them (document.py).

The Kafka headers are the relay's own (cloud_event_headers, adapters/kafka/relay.py): the document
describes what an outbox row is published with, and a header the relay adds without a word here fails
the build. The AMQP headers are the same CloudEvents attributes in the CloudEvents AMQP binding
(`cloudEvents_` application properties; the content type is the message's content_type property).
Both carry the W3C trace context when the change was traced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from booking_service.adapters.kafka.relay import cloud_event_headers
from booking_service.domain.events import EVENT_TYPES
from booking_service.observability.tracing import TRACE_HEADERS

KAFKA_PREFIX = "ce_"
#: The CloudEvents AMQP binding's prefix of attribute headers (`_`, which the binding prefers).
AMQP_PREFIX = "cloudEvents_"
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
    return dict(cloud_event_headers(row, source))


def amqp(row: Mapping[str, Any], source: str) -> dict[str, str]:
    """The same CloudEvents attributes as AMQP headers."""
    return {
        AMQP_PREFIX + name.removeprefix(KAFKA_PREFIX): value
        for name, value in kafka(row, source).items()
        if name.startswith(KAFKA_PREFIX)
    }


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
