"""Writing booking events to the transactional outbox, in the transaction of the change.

Each row holds the event as the protobuf BookingEvent it is published as, the booking it belongs
to and the outbox partition that booking hashes to (the relays share the work by partition, so one
booking's events are always published by one relay, in order), and the W3C trace context of the
call that wrote it when tracing is on (the relay publishes the event in that trace).

The event's booking carries the guest's email and phone only with GuestContact.INCLUDE
(EVENTS_GUEST_CONTACT=include): whatever reads the outbox (each broker's relay, a feed replaying
it) gets the same minimal form, and the table keeps no more than the events may say.

For WatchBookings, each row also names the booking's venue and guest, and keeps the id of the
transaction that wrote it (the `xid` column's default, pg_current_xact_id(): see domain/watch.py).
"""

from __future__ import annotations

import json
import uuid
import zlib

from booking.v1 import booking_pb2

from booking_service.adapters.booking_proto import (
    SOURCE_TO_PB,
    STATUS_TO_PB,
    booking_message,
    money_message,
    stamp,
)
from booking_service.adapters.driver import DriverSession, columns, insert_sql
from booking_service.adapters.tables import booking_outbox
from booking_service.domain.events import (
    GUEST_CONTACT_FIELDS,
    AttentionEvent,
    BookingUpdated,
    Event,
    GuestContact,
    GuestErased,
    PaymentEvent,
    StatusEvent,
)
from booking_service.domain.model import Booking
from booking_service.observability.tracing import current_trace_context

#: How many partitions the outbox is split into (one advisory lock each); fixed, as rows carry it.
PARTITIONS = 16

#: The booking's fields an event never carries: its history (each event is one entry of it).
BOOKING_FIELDS_NOT_IN_EVENTS = ("history",)

_COLUMNS = columns(booking_outbox, without=("id", "created_at", "sent_at", "xid"))
_INSERT = insert_sql(booking_outbox, _COLUMNS)


def partition_of(booking_id: str) -> int:
    return zlib.crc32(booking_id.encode()) % PARTITIONS


def event_message(
    event: Event, booking: Booking, event_id: str, *, guest_contact: GuestContact
) -> booking_pb2.BookingEvent:
    message = booking_pb2.BookingEvent(
        event_id=event_id,
        type=event.type,
        event_time=stamp(event.occurred_at),
        booking_id=event.booking_id,
        booking_version=event.version,
        status=STATUS_TO_PB[booking.status],
        actor=event.actor.actor_id,
        source=SOURCE_TO_PB[event.actor.source],
        booking=booking_message(booking),
        group_id=booking.group_id or "",
    )
    for name in BOOKING_FIELDS_NOT_IN_EVENTS:
        message.booking.ClearField(name)
    if guest_contact is not GuestContact.INCLUDE:
        for name in GUEST_CONTACT_FIELDS:
            message.booking.guest.ClearField(name)
    if isinstance(event, StatusEvent):
        message.previous_status = STATUS_TO_PB[event.from_status]
        message.status = STATUS_TO_PB[event.to_status]
        message.reason = event.reason
    if isinstance(event, BookingUpdated):
        message.change.changed_fields.extend(event.changed_fields)
        message.change.previous_start_time.CopyFrom(stamp(event.previous_slot.start))
        message.change.previous_end_time.CopyFrom(stamp(event.previous_slot.end))
        message.change.previous_unit_id = event.previous_unit_id or ""
    if isinstance(event, PaymentEvent):
        message.payment_change.amount.CopyFrom(money_message(event.amount))
        message.payment_change.refund_id = event.refund_id
        message.reason = event.reason
    if isinstance(event, AttentionEvent):
        message.saga_id, message.reason = event.saga_id, event.reason
    if isinstance(event, GuestErased):
        message.change.changed_fields.extend(event.erased_fields)
    return message


async def write(
    db: DriverSession, raised: list[tuple[Event, Booking]], *, guest_contact: GuestContact
) -> None:
    if not raised:
        return
    rows = []
    context = current_trace_context()
    trace_context = json.dumps(context) if context is not None else None
    for event, booking in raised:
        event_id = str(uuid.uuid4())
        rows.append(
            {
                "event_id": event_id,
                "booking_id": event.booking_id,
                "booking_version": event.version,
                "event_type": event.type,
                "partition": partition_of(event.booking_id),
                "payload": event_message(
                    event, booking, event_id, guest_contact=guest_contact
                ).SerializeToString(),
                "occurred_at": event.occurred_at,
                "trace_context": trace_context,
                # For WatchBookings (outbox_watch.py); `xid` is the column's default.
                "venue_id": booking.venue.venue_id,
                "guest_id": booking.guest.guest_id,
            }
        )
    values = [[row[name] for name in _COLUMNS] for row in rows]
    if len(values) == 1:
        await db.execute(_INSERT, *values[0])
    else:
        await db.executemany(_INSERT, values)
