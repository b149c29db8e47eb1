"""The PostgreSQL adapters on a real database: repository, idempotency store, unit of work."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.bootstrap import Application
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import UnitUnavailable, VersionMismatch
from booking_service.domain.model import Booking
from booking_service.domain.reference import new_reference
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Guest, TimeSlot, Venue, VenueType
from booking_service.service_layer.unit_of_work import DuplicateReference
from tests.conftest import NOW
from tests.helpers import API

START = NOW + timedelta(days=3)


def make_booking(
    ids, *, unit: str | None = "room-1", venue: str = "hotel", start=START, hours: int = 24
) -> Booking:
    import uuid

    return Booking.create(
        booking_id=str(uuid.uuid4()),
        reference=new_reference(),
        guest=Guest(ids("guest"), "Guest"),
        venue=Venue(ids(venue), VenueType.HOTEL, "Hotel", "Europe/Berlin"),
        unit_id=unit,
        slot=TimeSlot(start, start + timedelta(hours=hours)),
        party_size=2,
        special_requests="",
        idempotency_key="",
        actor=API,
        now=NOW,
        deadlines=Deadlines(),
    )


@pytest.fixture
def uow(app: Application) -> PostgresUnitOfWork:
    return PostgresUnitOfWork(app.connections)


async def test_a_booking_round_trips_with_its_history(uow, ids) -> None:
    booking = make_booking(ids)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    async with uow:
        loaded = await uow.bookings.get(booking.booking_id, with_history=True)
    assert loaded is not None
    for name in (
        "booking_id",
        "reference",
        "guest",
        "venue",
        "unit_id",
        "slot",
        "status",
        "version",
        "expire_time",
    ):
        assert getattr(loaded, name) == getattr(booking, name), name
    assert [h.to_status for h in loaded.history] == [BookingStatus.PENDING]
    assert loaded.stored_version == 1


async def test_nothing_stays_without_a_commit(uow, ids) -> None:
    booking = make_booking(ids)
    async with uow:
        await uow.bookings.add(booking)
    async with uow:
        assert await uow.bookings.get(booking.booking_id) is None


async def test_committed_events_are_collected(uow, ids) -> None:
    booking = make_booking(ids)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    assert [e.type for e in uow.committed_events] == ["booking.created"]


async def test_a_save_from_a_stale_version_loses(uow, ids) -> None:
    booking = make_booking(ids)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    async with uow:
        first = await uow.bookings.get(booking.booking_id)
    async with uow:
        second = await uow.bookings.get(booking.booking_id)
    assert first is not None
    assert second is not None
    first.change_status(BookingStatus.CONFIRMED, "", API, NOW, Deadlines())
    second.change_status(BookingStatus.CANCELLED, "", API, NOW, Deadlines())
    async with uow:
        await uow.bookings.save(first)
        await uow.commit()
    with pytest.raises(VersionMismatch) as raised:
        async with uow:
            await uow.bookings.save(second)
    assert raised.value.current_version == 2


@pytest.mark.parametrize(
    ("other_unit", "other_venue", "shift", "conflict"),
    [
        ("room-1", "hotel", timedelta(hours=23), True),  # overlaps the last hour
        ("room-1", "hotel", timedelta(hours=24), False),  # starts as the first ends
        ("room-2", "hotel", timedelta(0), False),  # another room
        ("room-1", "other-hotel", timedelta(0), False),  # the same room name elsewhere
        (None, "hotel", timedelta(0), False),  # no unit held
    ],
)
async def test_the_database_refuses_overlapping_holds(
    uow, ids, other_unit, other_venue, shift, conflict
) -> None:
    async with uow:
        await uow.bookings.add(make_booking(ids))
        await uow.commit()
    other = make_booking(ids, unit=other_unit, venue=other_venue, start=START + shift)
    refused = None
    try:
        async with uow:
            await uow.bookings.add(other)
            await uow.commit()
    except UnitUnavailable as error:
        refused = error
    assert (refused is not None) is conflict


async def test_only_active_bookings_hold_their_unit(uow, ids) -> None:
    first = make_booking(ids)
    async with uow:
        await uow.bookings.add(first)
        await uow.commit()
    first.change_status(BookingStatus.CANCELLED, "", API, NOW, Deadlines())
    async with uow:
        await uow.bookings.save(first)
        await uow.commit()
    async with uow:
        await uow.bookings.add(make_booking(ids))
        await uow.commit()


async def test_a_taken_reference_is_reported_for_a_redraw(uow, ids) -> None:
    first = make_booking(ids, unit=None)
    async with uow:
        await uow.bookings.add(first)
        await uow.commit()
    with pytest.raises(DuplicateReference):
        async with uow:
            await uow.bookings.add(replace(make_booking(ids, unit=None), reference=first.reference))


async def test_idempotency_keys_claim_replay_expire_and_purge(uow, ids) -> None:
    booking = make_booking(ids)
    key, ttl = ids("key"), timedelta(hours=24)
    async with uow:
        assert await uow.idempotency.claim("M", key, b"f1", NOW, ttl) is None
        await uow.bookings.add(booking)
        await uow.idempotency.complete("M", key, booking)
        await uow.commit()
    async with uow:
        stored = await uow.idempotency.claim("M", key, b"f2", NOW + timedelta(hours=1), ttl)
    assert stored is not None
    assert stored.fingerprint == b"f1"
    assert stored.response is not None
    assert stored.response.booking_id == booking.booking_id
    async with uow:  # another method, another scope
        assert await uow.idempotency.claim("N", key, b"f2", NOW, ttl) is None
    async with uow:  # past its retention the key is free again
        assert await uow.idempotency.claim("M", key, b"f3", NOW + ttl, ttl) is None
    async with uow:
        purged = await uow.idempotency.purge(NOW + timedelta(days=30))
        await uow.commit()
    assert purged >= 1
    async with uow:
        assert await uow.idempotency.claim("M", key, b"f4", NOW, ttl) is None
