"""A sample booking and its booking.created event, made by the code that writes real events: the
AsyncAPI document's example (document.py) is what the outbox would hold for this booking.

Every value is fixed, so that the generated document is the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from booking.v1 import booking_pb2
from google.protobuf import json_format

from booking_service.adapters.outbox import event_message
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.events import GuestContact
from booking_service.domain.model import Booking
from booking_service.domain.values import Actor, ChangeSource, Guest, TimeSlot, Venue, VenueType

NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
EVENT_ID = "5f0c6a43-8d1e-4b7a-9c2f-3e8a1d4b6c70"
BOOKING_ID = "0b9f5c2e-4c1a-4f7e-9a53-2f1d6c8e7a10"
#: A second, different outbox row (another event of another booking, at another time): what differs
#: between the two rows' headers depends on the event, the rest is fixed by the relay's settings.
OTHER_ROW = {
    "event_id": "9a7e2b1c-6d4f-4e3a-8b5c-1f2e3d4c5b6a",
    "booking_id": "3c2d1e0f-9a8b-4c7d-8e6f-5a4b3c2d1e0f",
    "event_type": "booking.cancelled",
    "occurred_at": NOW + timedelta(hours=5, seconds=1),
}


def sample_booking() -> Booking:
    """A table for four, made through the API: its creation raised one booking.created event."""
    start = NOW + timedelta(days=2, hours=10)
    return Booking.create(
        booking_id=BOOKING_ID,
        reference="BK-7KQ2M9XD",
        guest=Guest("guest-4711", "Ada Lovelace", "ada@example.com", "+4915112345678"),
        venue=Venue("venue-12", VenueType.RESTAURANT, "Chez Nous", "Europe/Berlin"),
        unit_id="table-7",
        slot=TimeSlot(start, start + timedelta(hours=2)),
        party_size=4,
        special_requests="window seat",
        idempotency_key="",
        actor=Actor("front-desk", ChangeSource.API),
        now=NOW,
        deadlines=Deadlines(),
    )


def created_event(guest_contact: GuestContact) -> booking_pb2.BookingEvent:
    """The sample booking's booking.created, as event_message writes it to the outbox."""
    booking = sample_booking()
    [event] = booking.events
    return event_message(event, booking, EVENT_ID, guest_contact=guest_contact)


def outbox_row(message: booking_pb2.BookingEvent) -> dict[str, Any]:
    """The outbox columns the relay reads for an event (as outbox.write stores them)."""
    return {
        "event_id": message.event_id,
        "booking_id": message.booking_id,
        "event_type": message.type,
        "occurred_at": message.event_time.ToDatetime(tzinfo=UTC),
    }


def as_json(message: booking_pb2.BookingEvent) -> dict[str, Any]:
    """The event's proto3 JSON form, as `booking-service events tail` prints it (proto field names,
    fields at their default value left out)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
