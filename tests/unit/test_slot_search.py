"""The slot search's use of the inventory (service_layer/slot_search.py), with fakes: one call per
candidate still open, never more in flight than SLOT_SEARCH_CONCURRENCY, none for a candidate the
rules or this service's bookings already refuse, and a failure fails the whole search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from booking_service.domain.errors import PeerUnavailable
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

    async def overlapping(self, venue_id: str, slot: TimeSlot) -> list[Any]:
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
