"""The slot search's use of the inventory (service_layer/slot_search.py), with fakes: one call per
candidate still open (per free unit asked, when units are asked), never more in flight than
SLOT_SEARCH_CONCURRENCY, none for a candidate the rules or this service's bookings already refuse,
a unit the inventory holds is not free, a request that could need more than MAX_INVENTORY_CALLS
checks is refused, and a failure fails the whole search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from booking_service.domain.errors import PeerUnavailable, ValidationFailed
from booking_service.domain.slots import SlotReason
from booking_service.domain.values import TimeSlot
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Capacity, Peers, Stay
from booking_service.service_layer.policy import Policy
from booking_service.service_layer.slot_search import SearchSlots, search_available_slots

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)


class Reads:
    def __init__(self) -> None:
        self.spans: list[TimeSlot] = []

    async def recorded_time_zone(self, venue_id: str) -> str | None:
        return "Europe/Berlin"

    async def venue_policy(self, venue_id: str, *, with_history: bool = False) -> VenuePolicy:
        return VenuePolicy(venue_id)  # none stored: the settings' rules

    async def venue_policy_and_zone(self, venue_id: str) -> tuple[VenuePolicy, str | None]:
        return await self.venue_policy(venue_id), await self.recorded_time_zone(venue_id)

    async def unit_holds(self, venue_id: str, slot: TimeSlot, *_: Any) -> list[Any]:
        self.spans.append(slot)
        return []


class Inventory:
    """Counts calls and the most in flight at once; `fail_at` makes that call fail."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = self.in_flight = self.most = 0
        self.fail_at = fail_at
        self.cancelled = 0

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        self.calls += 1
        n = self.calls
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            if n == self.fail_at:
                raise PeerUnavailable("inventory: circuit open")
            return Capacity(stay.slot.start.hour % 2 == 0, 7)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def context(inventory: Inventory, reads: Reads, concurrency: int = 4) -> Context:
    return Context(
        uow=lambda: pytest.fail("no unit of work needed"),
        clock=lambda: NOW,
        policy=replace(Policy(), slot_search_concurrency=concurrency),
        peers=Peers(inventory, None, None),  # type: ignore[arg-type]
        reads=reads,  # type: ignore[arg-type]
    )


def day(d: date, party: int = 2) -> SearchSlots:
    return SearchSlots("venue-1", party, timedelta(hours=2), local_date=d)


async def test_one_call_per_open_candidate_within_the_bound() -> None:
    inventory, reads = Inventory(), Reads()
    answer = await search_available_slots(day(date(2030, 1, 2)), ctx=context(inventory, reads, 4))
    assert len(answer.slots) == 96
    assert inventory.calls == 96
    assert inventory.most == 4
    assert len(reads.spans) == 1  # one read of the bookings for the whole span
    assert reads.spans[0] == TimeSlot(
        datetime(2030, 1, 1, 23, tzinfo=UTC), datetime(2030, 1, 2, 22, 45, tzinfo=UTC) + timedelta(hours=2)
    )
    sold_out = [s for s in answer.slots if not s.available]
    assert all(s.remaining_capacity == 7 for s in answer.slots)
    assert len(sold_out) == 48


async def test_no_call_for_a_candidate_already_refused_here() -> None:
    inventory = Inventory()
    past = await search_available_slots(day(date(2029, 12, 31)), ctx=context(inventory, Reads()))
    assert inventory.calls == 0
    assert all(s.remaining_capacity is None for s in past.slots)
    today = await search_available_slots(day(date(2030, 1, 1)), ctx=context(inventory, Reads()))
    # 10:00 in Berlin is 09:00Z; 09:45 local (08:45Z) is more than 5 minutes past
    assert inventory.calls == sum(1 for s in today.slots if s.remaining_capacity is not None) == 56
    too_many = await search_available_slots(day(date(2030, 1, 2), party=101), ctx=context(inventory, Reads()))
    assert inventory.calls == 56
    assert all(not s.available for s in too_many.slots)


async def test_one_failure_fails_the_search_and_cancels_the_rest() -> None:
    inventory = Inventory(fail_at=10)
    with pytest.raises(PeerUnavailable):
        await search_available_slots(day(date(2030, 1, 2)), ctx=context(inventory, Reads(), 4))
    assert inventory.calls < 96
    assert inventory.in_flight == 0


class HeldInventory(Inventory):
    """The sandbox's rule: a unit held from 18:00Z to 20:00Z on 2 January (another sales channel),
    unit-b held all day, and 3 seats over the venue from 12:00Z to 13:00Z (1 seat otherwise 7)."""

    def __init__(self, held: dict[str, TimeSlot]) -> None:
        super().__init__()
        self.held = held
        self.units: list[str | None] = []

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        self.calls += 1
        self.units.append(stay.unit_id)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            seats = 1 if stay.slot.start.hour == 12 else 7
            hold = self.held.get(stay.unit_id or "")
            if hold and hold.start < stay.slot.end and stay.slot.start < hold.end:
                return Capacity(False, seats, f"unit {stay.unit_id} is held for an overlapping time")
            return Capacity(seats >= stay.party_size, seats)
        finally:
            self.in_flight -= 1


async def test_units_asked_are_each_checked_with_the_inventory() -> None:
    """The reported case: a unit the inventory holds (not booked here) is not free, and a slot
    whose every unit asked is held there is BOOKED, as CreateBooking's reservation would refuse it."""
    day_2 = TimeSlot(datetime(2030, 1, 2, tzinfo=UTC), datetime(2030, 1, 3, tzinfo=UTC))
    held = {"room-9": TimeSlot(datetime(2030, 1, 2, 18, tzinfo=UTC), datetime(2030, 1, 2, 20, tzinfo=UTC))}
    inventory = HeldInventory({**held, "unit-b": day_2})
    query = replace(day(date(2030, 1, 2)), step=timedelta(hours=1), unit_ids=("room-9", "unit-b"))
    answer = await search_available_slots(query, ctx=context(inventory, Reads(), 4))
    assert len(answer.slots) == 24
    assert inventory.calls == 48
    assert inventory.most == 4
    assert sorted(inventory.units, key=str) == ["room-9"] * 24 + ["unit-b"] * 24
    by_hour = {s.candidate.start.hour: s for s in answer.slots}
    # 2-hour slots starting 17:00Z to 19:00Z meet room-9's hold; unit-b is held all day
    for hour in (17, 18, 19):
        assert by_hour[hour].reasons == [SlotReason.BOOKED], hour
        assert by_hour[hour].free_unit_ids == []
        assert by_hour[hour].remaining_capacity == 7
    assert by_hour[12].reasons == [SlotReason.SOLD_OUT]  # 1 seat for a party of 2
    assert by_hour[12].remaining_capacity == 1
    assert by_hour[16].available
    assert by_hour[16].free_unit_ids == ["room-9"]
    assert by_hour[20].available
    assert by_hour[20].free_unit_ids == ["room-9"]

    one_free = await search_available_slots(
        replace(query, unit_ids=("room-9",)), ctx=context(HeldInventory(held), Reads())
    )
    assert [s.candidate.start.hour for s in one_free.slots if not s.available] == [12, 17, 18, 19]


async def test_a_search_that_could_need_too_many_inventory_checks_is_refused() -> None:
    """96 slots x 10 units is 960 checks, the limit; 11 units is 1056, refused before any call,
    naming both fields and the arithmetic."""
    inventory = HeldInventory({})
    ten = replace(day(date(2030, 1, 2)), unit_ids=tuple(f"u{i}" for i in range(10)))
    await search_available_slots(ten, ctx=context(inventory, Reads(), 16))
    assert inventory.calls == 960
    eleven = replace(ten, unit_ids=tuple(f"u{i}" for i in range(11)))
    with pytest.raises(ValidationFailed) as raised:
        await search_available_slots(eleven, ctx=context(inventory, Reads(), 16))
    assert inventory.calls == 960
    fields = {v.field: v.description for v in raised.value.violations}
    assert set(fields) == {"unit_ids", "slot_step"}
    assert "96 slots x 11 unit_ids = 1056 inventory checks, more than 960 per call" in fields["unit_ids"]
