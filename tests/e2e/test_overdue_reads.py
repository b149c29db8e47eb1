"""Reads show a PENDING booking past its deadline (not yet swept) as what it is: expired. The read
settles it as a change or a new booking for its unit would, so the status, version, ETag, history
and events a client sees are all ones the database holds; a change then meets it expired."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format
from sqlalchemy import text

from booking_service.bootstrap import Application
from tests.conftest import FakeClock
from tests.e2e.peers_support import World, hotel_booking, world
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"
S = pb.BookingStatus
PAST_DEADLINE = timedelta(minutes=16)


async def events_of(app: Application, booking_id: str) -> list[tuple[int, str]]:
    async with app.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT booking_version, event_type FROM booking_outbox WHERE booking_id = :id ORDER BY id"),
            {"id": booking_id},
        )
        return [(row[0], row[1]) for row in rows]


def assert_expired_by_the_service(booking: pb.Booking) -> None:
    assert (booking.status, booking.version) == (S.BOOKING_STATUS_EXPIRED, 2)
    assert [(h.version, h.from_status, h.to_status) for h in booking.history] == [
        (1, S.BOOKING_STATUS_UNSPECIFIED, S.BOOKING_STATUS_PENDING),
        (2, S.BOOKING_STATUS_PENDING, S.BOOKING_STATUS_EXPIRED),
    ]
    assert (booking.history[-1].actor, booking.history[-1].source) == (
        "booking-service",
        pb.CHANGE_SOURCE_SYSTEM,
    )


async def test_get_shows_an_overdue_booking_expired_as_recorded(
    stub, app: Application, new_booking: Make, clock: FakeClock
) -> None:
    created = await stub.CreateBooking(new_booking())
    clock.advance(PAST_DEADLINE)
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert_expired_by_the_service(fetched)
    # The expiry is a change like any other: its history row and its events were written, once.
    assert await events_of(app, created.booking_id) == [
        (1, "booking.created"),
        (2, "booking.status_changed"),
        (2, "booking.expired"),
    ]
    again = await stub.GetBookingByReference(
        pb.GetBookingByReferenceRequest(booking_reference=created.booking_reference)
    )
    assert again == fetched
    assert len(await events_of(app, created.booking_id)) == 3


async def test_get_by_reference_settles_it_too(stub, new_booking: Make, clock: FakeClock) -> None:
    created = await stub.CreateBooking(new_booking())
    clock.advance(PAST_DEADLINE)
    fetched = await stub.GetBookingByReference(
        pb.GetBookingByReferenceRequest(booking_reference=created.booking_reference)
    )
    assert_expired_by_the_service(fetched)


async def test_lists_show_overdue_bookings_expired(stub, new_booking: Make, ids, clock: FakeClock) -> None:
    first = await stub.CreateBooking(new_booking(unit_id=ids("table-a")))
    second = await stub.CreateBooking(new_booking(unit_id=ids("table-b")))
    clock.advance(PAST_DEADLINE)
    pending = pb.BookingFilters(statuses=[S.BOOKING_STATUS_PENDING])
    venue = first.venue.venue_id
    # Asked for PENDING bookings, the page settles them first: none is pending any more.
    listed = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, filters=pending))
    assert list(listed.bookings) == []
    guest = await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=first.guest.guest_id))
    assert {b.booking_id for b in guest.bookings} == {first.booking_id, second.booking_id}
    for booking in guest.bookings:
        assert_expired_by_the_service(booking)
    expired = pb.BookingFilters(statuses=[S.BOOKING_STATUS_EXPIRED])
    at_venue = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, filters=expired))
    assert list(at_venue.bookings) == list(guest.bookings)


async def test_rest_reads_show_an_overdue_booking_expired(
    rest: httpx.AsyncClient, new_booking: Make, ids, clock: FakeClock
) -> None:
    request = new_booking()
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    created = (await rest.post(API, json=body)).json()
    listed_one = new_booking(unit_id=ids("table-b"))
    other = (
        await rest.post(API, json=json_format.MessageToDict(listed_one, preserving_proto_field_name=True))
    ).json()
    clock.advance(PAST_DEADLINE)
    fetched = await rest.get(f"{API}/{created['booking_id']}")
    assert (fetched.json()["status"], fetched.json()["version"], fetched.headers["etag"]) == (
        "BOOKING_STATUS_EXPIRED",
        "2",
        '"2"',
    )
    assert [h["to_status"] for h in fetched.json()["history"]] == [
        "BOOKING_STATUS_PENDING",
        "BOOKING_STATUS_EXPIRED",
    ]
    by_reference = await rest.get(f"{API}/reference/{created['booking_reference']}")
    assert by_reference.json() == fetched.json()
    pending = await rest.get(
        f"{API}/venue/{request.venue.venue_id}", params={"filters.statuses": "BOOKING_STATUS_PENDING"}
    )
    assert pending.json()["bookings"] == []
    for_guest = (await rest.get(f"{API}/guest/{request.guest.guest_id}")).json()["bookings"]
    assert {b["booking_id"]: b["status"] for b in for_guest} == {
        created["booking_id"]: "BOOKING_STATUS_EXPIRED",
        other["booking_id"]: "BOOKING_STATUS_EXPIRED",
    }


async def test_a_change_meets_the_booking_as_read(
    stub, rest: httpx.AsyncClient, new_booking: Make, clock: FakeClock
) -> None:
    created = await stub.CreateBooking(new_booking())
    clock.advance(PAST_DEADLINE)
    read = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert (read.status, read.version) == (S.BOOKING_STATUS_EXPIRED, 2)
    # With the version read: the booking is expired, which no change undoes.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CancelBooking(pb.CancelBookingRequest(booking_id=created.booking_id, expected_version=2))
    error = rich_error(raised.value)
    assert (error.code, error.reason, error.metadata["current_status"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_TRANSITION",
        "EXPIRED",
    )
    answer = await rest.put(
        f"{API}/{created.booking_id}", json={"party_size": 3}, headers={"If-Match": read_etag(read)}
    )
    problem: dict[str, Any] = answer.json()
    assert answer.status_code == 400
    info = next(d for d in problem["details"] if d["@type"].endswith("ErrorInfo"))
    assert (problem["code"], info["reason"], info["metadata"]["current_status"]) == (
        grpc.StatusCode.FAILED_PRECONDITION.value[0],
        "BOOKING_CLOSED",
        "EXPIRED",
    )
    # With the version of before the expiry: the expiry was a change, so the version moved on.
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=created.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
            )
        )
    error = rich_error(stale.value)
    assert (error.code, error.reason, error.metadata["current_version"]) == (
        grpc.StatusCode.ABORTED,
        "VERSION_MISMATCH",
        "2",
    )
    unchanged = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert unchanged == read


def read_etag(booking: pb.Booking) -> str:
    return f'"{booking.version}"'


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(database_url, settings, sandbox) as running:
        yield running


async def test_an_overdue_booking_that_cannot_be_settled_now_reads_as_stored(
    w: World, new_booking: Make
) -> None:
    """Paid up front, with the payment service down: nobody can tell whether it was paid at the last
    moment, so the read shows it as stored (PENDING, its deadline past) instead of failing or
    guessing; once the payment service answers, it is settled and reads expired."""
    created = await w.stub.CreateBooking(hotel_booking(new_booking))
    assert created.payment_intent_id
    w.clock.advance(PAST_DEADLINE)
    await w.faults(peer="payments", down=True)
    fetched = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert (fetched.status, fetched.version) == (S.BOOKING_STATUS_PENDING, 1)
    assert fetched.expire_time.ToDatetime() < w.clock().replace(tzinfo=None)
    await w.faults(peer="payments", down=False)
    await w.recover()
    settled = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert settled.status == S.BOOKING_STATUS_EXPIRED
    assert settled.payment.status == pb.PAYMENT_STATUS_VOIDED
    assert [h.version for h in settled.history] == list(range(1, settled.version + 1))
