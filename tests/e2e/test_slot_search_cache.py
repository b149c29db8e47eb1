"""SearchAvailableSlots keeps the inventory's answers for SLOT_SEARCH_CACHE_SECONDS
(service_layer/search_inventory.py), over real gRPC, real PostgreSQL and the sandbox inventory on
HTTP, its check calls counted: a second search of the same day asks nothing, concurrent searches
share their calls, a hold made at the inventory behind the service's back is seen once the answer
is older than the max age (at once with the cache off), a booking made here is seen at once
whatever the cache holds, and a failed check is never kept."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import slots_pb2 as spb

from booking_service.config import Settings
from tests.conftest import Sandbox
from tests.e2e.peers_support import world
from tests.e2e.test_slot_search import HOUR, Make, at, reserve_elsewhere, search, utc, venue_in
from tests.helpers import rich_error

CHECK = "/api/v1/inventory/check-availability"
DAY = date(2030, 1, 2)
AVAILABLE = spb.SLOT_STATUS_AVAILABLE


def checks(sandbox: Sandbox) -> int:
    """The inventory's check calls so far (each attempt)."""
    return sum(1 for _, path in sandbox.state.calls if path == CHECK)


def cached_for(settings: Settings, seconds: float) -> Settings:
    return replace(settings, slot_search_cache=timedelta(seconds=seconds))


def free_at(answer: Any, unit: str) -> set[int]:
    """The UTC hours of the slots `unit` is offered in."""
    return {utc(s).hour for s in answer.slots if s.status == AVAILABLE and unit in s.free_unit_ids}


async def test_a_second_search_of_the_same_day_asks_the_inventory_nothing(
    stub: Any, new_booking: Make, sandbox: Sandbox
) -> None:
    """With the default settings (5 s): the first search asks once per candidate, the second, the
    same day a moment later, not at all, and answers the same."""
    venue = (await venue_in(stub, new_booking, "Europe/Berlin")).venue.venue_id
    before = checks(sandbox)
    first = await stub.SearchAvailableSlots(search(venue, DAY))
    asked = checks(sandbox) - before
    assert asked == 96
    second = await stub.SearchAvailableSlots(search(venue, DAY))
    assert checks(sandbox) - before == asked
    assert second == first


async def test_concurrent_identical_searches_share_their_calls(
    database_url: str, settings: Settings, sandbox: Sandbox, new_booking: Make
) -> None:
    """8 searches of the same day at once, the inventory slowed to 50 ms a check: 96 calls in all
    (one per candidate), not 8 x 96."""
    async with world(database_url, cached_for(settings, 60), sandbox) as w:
        venue = (await venue_in(w.stub, new_booking, "Europe/Berlin")).venue.venue_id
        await w.faults(peer="inventory", latency_ms=50)
        before = checks(sandbox)
        answers = await asyncio.gather(
            *(w.stub.SearchAvailableSlots(search(venue, DAY), timeout=30) for _ in range(8))
        )
        assert checks(sandbox) - before == 96
        assert all(a == answers[0] for a in answers)
        assert len(answers[0].slots) == 96


@pytest.mark.parametrize("max_age", [1.0, 0], ids=["cached-1s", "off"])
async def test_a_hold_made_at_the_inventory_is_seen_once_the_answer_is_too_old(
    database_url: str, settings: Settings, sandbox: Sandbox, new_booking: Make, max_age: float
) -> None:
    """room-9 held directly at the inventory (another sales channel) from 18:00 to 20:00 UTC after
    a search: with a 1-second cache, a search right after still offers it (the kept answers) and a
    search more than a second later does not; with the cache off, the next search already does not."""
    async with world(database_url, cached_for(settings, max_age), sandbox) as w:
        venue = (await venue_in(w.stub, new_booking, "UTC")).venue.venue_id
        sandbox.state.inventory.capacity[venue] = 20
        query = search(venue, DAY, units=("room-9",), step=HOUR)
        every_hour = set(range(24))
        assert free_at(await w.stub.SearchAvailableSlots(query), "room-9") == every_hour
        async with httpx.AsyncClient(base_url=sandbox.url) as peer:
            start, end = at(2030, 1, 2, 18), at(2030, 1, 2, 20)
            await reserve_elsewhere(peer, f"external-{venue}", venue, "room-9", start, end)
        held = every_hour - {17, 18, 19}  # the 2-hour slots that meet 18:00 to 20:00
        right_after = free_at(await w.stub.SearchAvailableSlots(query), "room-9")
        assert right_after == (every_hour if max_age else held)
        await asyncio.sleep(max_age + 0.1)
        assert free_at(await w.stub.SearchAvailableSlots(query), "room-9") == held


async def test_a_booking_made_here_is_never_offered_from_the_kept_answers(
    stub: Any, new_booking: Make, sandbox: Sandbox
) -> None:
    """This service's own bookings are read from the database on every search: a booking of
    table-1 made between two searches is BOOKED in the second, although its inventory answers were
    kept (no new check for it)."""
    venue = (await venue_in(stub, new_booking, "UTC")).venue.venue_id
    sandbox.state.inventory.capacity[venue] = 20
    query = search(venue, DAY, units=("table-1",), step=HOUR)
    assert free_at(await stub.SearchAvailableSlots(query), "table-1") == set(range(24))
    booking = new_booking(start_time=at(2030, 1, 2, 18), end_time=at(2030, 1, 2, 20))
    booking.venue.venue_id, booking.venue.time_zone, booking.unit_id = venue, "UTC", "table-1"
    await stub.CreateBooking(booking)
    before = checks(sandbox)
    assert free_at(await stub.SearchAvailableSlots(query), "table-1") == set(range(24)) - {17, 18, 19}
    assert checks(sandbox) == before


async def test_a_failed_check_is_not_kept(
    database_url: str, settings: Settings, sandbox: Sandbox, new_booking: Make
) -> None:
    """One candidate (a one-day step), its check failing on both attempts: UNAVAILABLE as without
    the cache; the next search asks the inventory again and answers; the one after is served from
    the kept answer."""
    async with world(database_url, cached_for(settings, 60), sandbox) as w:
        venue = (await venue_in(w.stub, new_booking, "Europe/Berlin")).venue.venue_id
        query = search(venue, DAY, step=timedelta(days=1))
        before = checks(sandbox)
        await w.fail_next(CHECK, "error", count=2)  # the call and its one retry (QUICK)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await w.stub.SearchAvailableSlots(query, timeout=20)
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "PEER_UNAVAILABLE")
        assert checks(sandbox) - before == 2
        answer = await w.stub.SearchAvailableSlots(query, timeout=20)
        assert [s.status for s in answer.slots] == [AVAILABLE]
        assert checks(sandbox) - before == 3
        assert await w.stub.SearchAvailableSlots(query, timeout=20) == answer
        assert checks(sandbox) - before == 3


def open_hours(answer: Any) -> set[int]:
    """The UTC hours of the slots offered (without units: the venue's seats)."""
    return {utc(s).hour for s in answer.slots if s.status == AVAILABLE}


async def test_seats_a_booking_here_takes_are_never_offered_from_the_kept_answers(
    database_url: str, settings: Settings, sandbox: Sandbox, new_booking: Make
) -> None:
    """The venue's seats come from the inventory's kept answers, not from this service's bookings:
    a booking made here tells them (search_inventory.HoldsTold). A venue of 4 seats, kept answers
    for a minute: a booking of 4 at 18:00 (table-1) makes the next search's 2-hour slots that meet
    it SOLD_OUT at once, for the venue's seats and for another unit (table-2) asked; the slots
    that do not meet it stay kept (no new check)."""
    async with world(database_url, cached_for(settings, 60), sandbox) as w:
        venue = (await venue_in(w.stub, new_booking, "UTC")).venue.venue_id
        sandbox.state.inventory.capacity[venue] = 4
        seats = search(venue, DAY, party=4, step=HOUR)
        table_2 = search(venue, DAY, party=2, units=("table-2",), step=HOUR)
        every_hour = set(range(24))
        assert open_hours(await w.stub.SearchAvailableSlots(seats)) == every_hour
        assert free_at(await w.stub.SearchAvailableSlots(table_2), "table-2") == every_hour
        booking = new_booking(start_time=at(2030, 1, 2, 18), end_time=at(2030, 1, 2, 20), party_size=4)
        booking.venue.venue_id, booking.venue.time_zone, booking.unit_id = venue, "UTC", "table-1"
        await w.stub.CreateBooking(booking)
        before = checks(sandbox)
        taken = every_hour - {17, 18, 19}
        answer = await w.stub.SearchAvailableSlots(seats)
        assert open_hours(answer) == taken
        sold_out = spb.SLOT_UNAVAILABLE_REASON_SOLD_OUT
        assert {utc(s).hour for s in answer.slots if sold_out in s.reasons} == {17, 18, 19}
        assert free_at(await w.stub.SearchAvailableSlots(table_2), "table-2") == taken
        assert checks(sandbox) - before == 6  # the three forgotten windows, for each search


async def test_a_short_deadline_does_not_fail_the_searches_sharing_its_calls(
    database_url: str, settings: Settings, sandbox: Sandbox, new_booking: Make
) -> None:
    """A search with a 0.1 s deadline starts the day's checks (the inventory slowed to 0.3 s, within
    the peer timeout of 0.4 s); a search without a short deadline that needs the same answers a
    moment later waits on those calls and gets its slots: the calls run outside the request that
    started them (answer_cache.py), so the first caller's deadline ends only its own wait."""
    async with world(database_url, cached_for(settings, 60), sandbox) as w:
        venue = (await venue_in(w.stub, new_booking, "UTC")).venue.venue_id
        query = search(venue, DAY, step=timedelta(hours=6))
        await w.faults(peer="inventory", latency_ms=300)
        hasty = asyncio.ensure_future(w.stub.SearchAvailableSlots(query, timeout=0.1))
        await asyncio.sleep(0.05)
        patient = await w.stub.SearchAvailableSlots(query, timeout=20)
        assert [s.status for s in patient.slots] == [AVAILABLE] * 4
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await hasty
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
