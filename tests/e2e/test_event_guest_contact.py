"""Minimal personal data in events: the guest's id and name, but not their email or phone unless
EVENTS_GUEST_CONTACT=include; checked on the events a real consumer reads from the broker and on
the outbox table they were published from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import asyncpg
import pytest
from booking.v1 import booking_pb2
from booking.v1 import booking_pb2 as pb

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.config import Settings
from booking_service.domain.events import GuestContact
from tests.e2e.events_support import EventWorld, count, event_world

Make = Callable[..., pb.CreateBookingRequest]
EMAIL, PHONE = "ada@example.com", "+4915112345678"


@pytest.fixture(params=list(GuestContact), ids=lambda c: f"EVENTS_GUEST_CONTACT={c}")
def contact(request: pytest.FixtureRequest) -> GuestContact:
    setting: GuestContact = request.param
    return setting


@pytest.fixture
async def world(
    contact: GuestContact, private_database: str, settings: Settings, kafka: EmbeddedKafka, peers
) -> AsyncIterator[EventWorld]:
    configured = replace(settings, events_guest_contact=contact)  # as bootstrap() reads it
    async with event_world(private_database, configured, kafka, peers) as running:
        yield running


async def outbox_payloads(world: EventWorld) -> list[bytes]:
    conn = await asyncpg.connect(world.database_url)
    try:
        return [bytes(row["payload"]) for row in await conn.fetch("SELECT payload FROM booking_outbox")]
    finally:
        await conn.close()


async def test_events_carry_the_guests_email_and_phone_only_when_told_to(
    world: EventWorld, contact: GuestContact, new_booking: Make
) -> None:
    world.start_relay()
    booking = await world.stub.CreateBooking(new_booking(guest=_guest(new_booking)))
    await world.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1, reason="rain")
    )
    assert (booking.guest.email, booking.guest.phone) == (EMAIL, PHONE)  # the booking keeps them

    received = await world.receive(count(3))
    assert {r.event.type for r in received} == {
        "booking.created",
        "booking.status_changed",
        "booking.cancelled",
    }
    payloads = await outbox_payloads(world)
    assert len(payloads) == 3
    published = [r.event.SerializeToString() for r in received]
    for payload in payloads + published:
        guest = booking_pb2.BookingEvent.FromString(payload).booking.guest
        assert (guest.guest_id, guest.name) == (booking.guest.guest_id, "Ada Lovelace")
        if contact is GuestContact.INCLUDE:
            assert (guest.email, guest.phone) == (EMAIL, PHONE)
        else:
            assert (guest.email, guest.phone) == ("", "")
            assert EMAIL.encode() not in payload  # in no field
            assert PHONE.encode() not in payload


def _guest(new_booking: Make) -> pb.Guest:
    guest = pb.Guest()
    guest.CopyFrom(new_booking().guest)
    guest.email, guest.phone = EMAIL, PHONE
    return guest
