"""The read side on a real database: one statement returns what the repository loads, history
included and in order; the slot search's unit holds are the overlapping bookings' units, blocked
times and deadlines; a dead connection is dropped from the pool, not handed out again."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta

from booking_service.adapters.booking_reads import PostgresBookingReads
from booking_service.adapters.rows import booking_row
from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.bootstrap import Application
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.limits import BookingLimits
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, TimeSlot
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


async def test_unit_holds_are_the_overlapping_bookings_as_the_slot_search_weighs_them(
    app: Application, ids
) -> None:
    """PENDING (with its deadline) and CONFIRMED, with frozen buffers and without, a unit and none:
    each hold is its booking's id, unit, blocked time, overdue-ness and reservation, in order; of
    the units not asked for, only the overdue bookings come back."""
    venue = ids("venue")
    made = [make_booking(ids, unit=unit, hours=2) for unit in ("room-1", "room-2", None, "room-3")]
    for booking in made:
        booking.venue = replace(booking.venue, venue_id=venue)
    made[0].rules = BookingLimits(buffer_before=timedelta(minutes=30), buffer_after=timedelta(hours=1))
    made[0].inventory_reservation_id = "res-0"
    made[1].change_status(BookingStatus.CONFIRMED, "paid", STAFF, NOW, Deadlines())
    made[3].change_status(BookingStatus.CONFIRMED, "paid", STAFF, NOW, Deadlines())
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        for booking in made:
            await uow.bookings.add(booking)
        await uow.commit()
    reads = PostgresBookingReads(app.connections)
    start = made[0].slot.start
    span = TimeSlot(start - timedelta(days=1), start + timedelta(days=1))
    in_order = await reads.overlapping(venue, span)
    bookings = {b.booking_id: b for b in in_order}
    assert len(bookings) == 4
    later = NOW + timedelta(days=365)
    for now, units, expected in [
        (NOW, ["room-1", "room-2", "room-3"], ["room-1", "room-2", "room-3"]),
        (NOW, ["room-2"], ["room-2"]),  # nothing overdue yet
        (later, ["room-2"], [None, "room-1", "room-2"]),  # the PENDING ones overdue, any unit
        (later, [], [None, "room-1"]),
    ]:
        holds = await reads.unit_holds(venue, span, units, now)
        assert sorted([h.unit_id for h in holds], key=str) == expected
        wanted = [b.booking_id for b in in_order if b.unit_id in units or b.is_overdue(now)]
        assert [h.booking_id for h in holds] == wanted  # overlapping's order
        for hold in holds:
            booking = bookings[hold.booking_id]
            assert hold.unit_id == booking.unit_id
            assert hold.blocked == booking.blocked
            assert hold.inventory_reservation_id == booking.inventory_reservation_id
            assert hold.is_overdue(NOW) == booking.is_overdue(NOW)
            assert hold.is_overdue(later) == booking.is_overdue(later)
    by_unit = {h.unit_id: h for h in await reads.unit_holds(venue, span, ["room-1", "room-2"], NOW)}
    assert by_unit["room-1"].blocked == TimeSlot(start - timedelta(minutes=30), start + timedelta(hours=3))
    assert by_unit["room-1"].is_overdue(later)
    assert not by_unit["room-2"].is_overdue(later)  # CONFIRMED: no deadline
    before = TimeSlot(start - timedelta(days=2), start - timedelta(hours=1))
    assert await reads.unit_holds(venue, before, ["room-1", "room-2"], later) == []


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
