"""The zone this service last recorded for a venue, on a real database (service_layer/venue_zone.py):
the zone of its most recently created booking, whatever that booking's status or start, read from
the index 0008 builds."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from booking_service.adapters.booking_reads import RECORDED_TIME_ZONE, PostgresBookingReads
from booking_service.adapters.database import driver_url
from booking_service.adapters.unit_of_work import PostgresUnitOfWork
from booking_service.bootstrap import Application
from booking_service.domain.commands import UpdateVenuePolicy
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.model import Booking
from booking_service.domain.reference import new_reference
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, TimeSlot, Venue, VenueType
from booking_service.domain.venue_policy import VenuePolicy
from tests.conftest import NOW

API = Actor("front-desk", ChangeSource.API)


def booking(venue_id: str, zone: str, created: datetime, start: datetime) -> Booking:
    return Booking.create(
        booking_id=str(uuid.uuid4()),
        reference=new_reference(),
        guest=Guest("guest-1", "Guest"),
        venue=Venue(venue_id, VenueType.RESTAURANT, "Chez Nous", zone),
        unit_id=None,
        slot=TimeSlot(start, start + timedelta(hours=2)),
        party_size=2,
        special_requests="",
        idempotency_key="",
        actor=API,
        now=created,
        deadlines=Deadlines(),
    )


async def test_the_recorded_zone_is_that_of_the_venues_latest_created_booking(app: Application, ids) -> None:
    venue = ids("venue")
    reads = PostgresBookingReads(app.connections)
    assert await reads.recorded_time_zone(venue) is None
    latest = booking(venue, "Asia/Tokyo", NOW + timedelta(hours=1), NOW + timedelta(days=3))
    latest.change_status(BookingStatus.CANCELLED, "rain", API, NOW + timedelta(hours=2), Deadlines())
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        # Created earlier but starting later; and the latest is cancelled: neither matters.
        await uow.bookings.add(
            booking(venue, "America/New_York", NOW - timedelta(hours=1), NOW + timedelta(days=9))
        )
        await uow.bookings.add(booking(venue, "Europe/Berlin", NOW, NOW + timedelta(days=5)))
        await uow.bookings.add(latest)
        await uow.bookings.add(booking(ids("elsewhere"), "Europe/Lisbon", NOW + timedelta(hours=5), NOW))
        await uow.commit()
    assert await reads.recorded_time_zone(venue) == "Asia/Tokyo"


async def test_the_recorded_zone_is_read_from_its_index(database_url: str) -> None:
    connection = await asyncpg.connect(driver_url(database_url))
    try:
        # A near-empty table would be scanned; and on the session's shared database (whatever rows
        # and statistics earlier tests left) reading another index and sorting can cost the same.
        await connection.execute("SET enable_seqscan = off")
        await connection.execute("SET enable_sort = off")
        plan = "\n".join(r[0] for r in await connection.fetch("EXPLAIN " + RECORDED_TIME_ZONE, "venue-1"))
    finally:
        await connection.close()
    assert "Index Only Scan Backward using bookings_venue_created" in plan, plan


async def test_the_policy_and_the_recorded_zone_are_read_together_as_apart(app: Application, ids) -> None:
    """BookingReads.venue_policy_and_zone: venue_policy and recorded_time_zone in one statement, with
    a policy or without, with bookings or without."""
    reads = PostgresBookingReads(app.connections)
    bare, with_policy = ids("bare"), ids("ruled")

    async def together(venue: str) -> tuple[object, ...]:
        policy, recorded = await reads.venue_policy_and_zone(venue)
        return policy_fields(policy), recorded

    async def apart(venue: str) -> tuple[object, ...]:
        return policy_fields(await reads.venue_policy(venue)), await reads.recorded_time_zone(venue)

    assert await together(bare) == await apart(bare) == ((bare, 0, "", {}, None), None)
    await app.use_cases.update_venue_policy(
        UpdateVenuePolicy(
            venue_id=with_policy,
            expected_version=0,
            values={"time_zone": "Asia/Tokyo", "max_party_size": 6},
            paths=("time_zone", "max_party_size"),
            actor=API,
        )
    )
    uow = PostgresUnitOfWork(app.connections)
    async with uow:
        await uow.bookings.add(booking(bare, "Europe/Berlin", NOW, NOW + timedelta(days=5)))
        await uow.bookings.add(booking(with_policy, "Europe/Lisbon", NOW, NOW + timedelta(days=5)))
        await uow.commit()
    for venue, zone in ((bare, "Europe/Berlin"), (with_policy, "Europe/Lisbon")):
        assert await together(venue) == await apart(venue)
        assert (await together(venue))[1] == zone
    policy, _ = await reads.venue_policy_and_zone(with_policy)
    assert (policy.version, policy.time_zone, policy.values["max_party_size"]) == (1, "Asia/Tokyo", 6)


def policy_fields(policy: VenuePolicy) -> tuple[object, ...]:
    return policy.venue_id, policy.version, policy.time_zone, dict(policy.values), policy.update_time
