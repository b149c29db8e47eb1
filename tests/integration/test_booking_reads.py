"""The read side on a real database: one statement returns what the repository loads, history
included and in order; a dead connection is dropped from the pool, not handed out again."""

from __future__ import annotations

from dataclasses import fields

from booking_service.adapters.booking_reads import PostgresBookingReads
from booking_service.adapters.rows import booking_row
from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.bootstrap import Application
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource
from tests.conftest import NOW
from tests.helpers import assert_dead_connections_leave_the_pool
from tests.integration.test_repository import make_booking

STAFF = Actor("front-desk", ChangeSource.API)


async def test_a_read_returns_what_the_repository_loads(app: Application, ids) -> None:
    booking = make_booking(ids)
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    async with uow:
        loaded = await uow.bookings.get(booking.booking_id)
        assert loaded is not None
        loaded.change_status(BookingStatus.CONFIRMED, "paid", STAFF, NOW, Deadlines())
        loaded.change_status(BookingStatus.CHECKED_IN, "arrived", STAFF, NOW, Deadlines())
        await uow.bookings.save(loaded)
        await uow.commit()
    async with uow:
        expected = await uow.bookings.get(booking.booking_id, with_history=True)
    reads = PostgresBookingReads(app.connections)
    read = await reads.get(booking.booking_id)
    assert expected is not None
    assert read is not None
    assert booking_row(read) == booking_row(expected)
    assert read.history == expected.history
    assert [h.to_status for h in read.history] == [
        BookingStatus.PENDING,
        BookingStatus.CONFIRMED,
        BookingStatus.CHECKED_IN,
    ]
    by_reference = await reads.get_by_reference(booking.reference)
    assert by_reference is not None
    assert booking_row(by_reference) == booking_row(expected)
    assert {f.name for f in fields(read)} == {f.name for f in fields(expected)}


async def test_a_missing_booking_reads_as_none(app: Application) -> None:
    reads = PostgresBookingReads(app.connections)
    assert await reads.get("00000000-0000-4000-8000-000000000000") is None
    assert await reads.get_by_reference("BK-NOPE0000") is None


async def test_a_dead_connection_is_dropped_from_the_pool(app: Application, ids, database_url: str) -> None:
    booking = make_booking(ids)
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()
    reads = PostgresBookingReads(app.connections)
    assert await reads.get(booking.booking_id) is not None

    async def attempt() -> None:
        assert await reads.get(booking.booking_id) is not None

    await assert_dead_connections_leave_the_pool(app.connections, database_url, attempt)
