"""What the outbox relay asks of a broker: publish a batch of outbox rows, and say which of them the
broker acknowledged, keeping each booking's order.

A publisher (adapters/kafka/publisher.py, adapters/rabbitmq/publisher.py) sends every row of the
batch, waits (bounded) for the broker's answers, and returns the ids to mark sent: for each booking,
only the rows before its first failure (`in_booking_order`), so that the relay's retry publishes the
failed row and everything after it again, in order. A publisher raises nothing for a broker that is
down or refuses: such rows are simply not acknowledged, and wait in the outbox.

Both brokers carry the same CloudEvents attributes (binary content mode), each with its binding's
prefix: `ce_` on Kafka, `cloudEvents_` on AMQP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeAlias

from booking_service.observability.metrics import OUTBOX_NOT_DELIVERED

log = logging.getLogger("booking_service.relay")

#: The protobuf message the event's data holds (the CloudEvents `dataschema` attribute).
DATA_SCHEMA = "type.googleapis.com/booking.v1.BookingEvent"
#: The CloudEvents `datacontenttype`: the event's data is a serialized BookingEvent.
CONTENT_TYPE = "application/protobuf"

#: An outbox row as a publisher reads it (relay.py selects the columns; an asyncpg Record).
Row: TypeAlias = Mapping[str, Any]


class Publisher(Protocol):
    async def prepare(self) -> None:
        """Connects ahead of the first batch, declaring what it publishes to (RabbitMQ's exchange),
        so that consumers can bind to it; a broker that does not answer is no error here."""
        ...

    async def publish(self, rows: Sequence[Row]) -> list[int]:
        """Publishes the rows (in id order) and returns the ids the broker acknowledged, for each
        booking only those before its first failure (in_booking_order)."""
        ...

    def close(self) -> None:
        """Stops waiting for the broker at once: what it has not acknowledged stays unsent."""
        ...

    async def aclose(self) -> None:
        """Releases the publisher's connections (after close(), when the relay stops)."""
        ...


def cloud_event_attributes(row: Row, source: str) -> dict[str, str]:
    """The event's CloudEvents attributes but `datacontenttype` (each binding carries that as its
    message's content type), as canonical strings. `partitionkey` (the Partitioning extension) is the
    booking id: the key a consumer orders and groups one booking's events by."""
    return {
        "specversion": "1.0",
        "id": str(row["event_id"]),
        "source": source,
        "type": row["event_type"],
        "time": row["occurred_at"].isoformat().replace("+00:00", "Z"),
        "subject": str(row["booking_id"]),
        "dataschema": DATA_SCHEMA,
        "partitionkey": str(row["booking_id"]),
    }


def in_booking_order(rows: Sequence[Row], outcome: Mapping[int, object | None]) -> list[int]:
    """The ids to mark sent: a row whose outcome is None (acknowledged), unless an earlier row of
    its booking failed (any other outcome, or none reported). Logs the failures once."""
    acknowledged: list[int] = []
    failed_bookings: set[object] = set()
    for row in rows:
        error = outcome.get(row["id"], "no delivery report")
        if error is None and row["booking_id"] not in failed_bookings:
            acknowledged.append(row["id"])
        elif error is not None:
            failed_bookings.add(row["booking_id"])
    if failed_bookings:
        OUTBOX_NOT_DELIVERED.inc(len(rows) - len(acknowledged))
        errors = {str(e) for e in outcome.values() if e is not None}
        if len(outcome) < len(rows):
            errors.add("no delivery report")
        log.warning(
            "events not delivered; will retry",
            extra={"bookings": len(failed_bookings), "errors": sorted(errors)[:3]},
        )
    return acknowledged
