"""The inventory's checks as the slot search reads them: kept for up to SLOT_SEARCH_CACHE_SECONDS
(`Policy.slot_search_cache`) in an AnswerCache (answer_cache.py: stale-while-revalidate from half
that age, one call per missing answer however many searches need it, at most
`SEARCH_CACHE_SIZE` answers), one per process for its lifetime (built by bootstrap).

Only the slot search reads through it: CreateBooking's reservation, UpdateBooking and
CheckAvailability ask the inventory itself, so that what is booked is decided on its current
answer. An answer is kept by everything the check sends (inventory.check): the stay (venue, its
type, unit or none, start and end, party size, zone) and the reservations it does not count,
sorted, as a tuple of those values (hashed and compared in C: a search looks up about a hundred
keys, and a key of the frozen dataclasses costs Python-level hashing and comparison of each). A
failed check is never kept.

When this process reserves or moves a hold (`HoldsTold`, the inventory every use case calls), the
venue's kept answers for the windows that meet the hold's are forgotten, whatever the call's
outcome (an answer lost on the way may still have made the hold): so a booking made here is never
offered by this process's next search, for its unit nor for the venue's seats (remaining capacity,
SOLD_OUT). Another process of the service (`--workers`) sees it once its kept answers are older
than the max age, as it sees holds made elsewhere. A release is not told (its call names no venue):
seats freed here may show taken for up to the max age.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from booking_service.domain.values import TimeSlot, VenueType
from booking_service.observability.metrics import SLOT_SEARCH_INVENTORY_ANSWERS
from booking_service.service_layer.answer_cache import AnswerCache, Lookup
from booking_service.service_layer.peers import Capacity, Hold, Inventory, Stay

#: The most inventory answers kept: about 115 days of a venue's 15-minute slots searched for one
#: party size, a few MB.
SEARCH_CACHE_SIZE = 10_000

#: venue, venue type, unit, start, end, party size, zone, the reservations not counted (sorted)
Key = tuple[str, VenueType | None, str | None, datetime, datetime, int, str, tuple[str, ...]]
#: What the stays of one search share: venue, venue type, party size, zone.
Place = tuple[str, VenueType | None, int, str]


class InventoryChecks(Protocol):
    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        """The answer kept for the stay, else the inventory's (then kept)."""

    def kept_all(
        self,
        place: Place,
        windows: Sequence[tuple[str | None, datetime, datetime]],
        exclude: Sequence[str] = (),
    ) -> list[Capacity | None]:
        """The answer kept for the stay of each window (unit or none, start, end) at `place`, in
        order, if one may be used (None: `check` must ask), without building the stays."""


class HoldsTold:
    """The inventory as the use cases call it, telling the slot search's kept answers (`checks`)
    of every hold this process makes or moves (the module's docstring); otherwise the inventory
    itself."""

    def __init__(self, inventory: Inventory, checks: CachedChecks) -> None:
        self.inventory = inventory
        self.checks = checks

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        return await self.inventory.check(stay, exclude)

    async def reserve(self, key: str, booking_id: str, stay: Stay) -> str:
        try:
            return await self.inventory.reserve(key, booking_id, stay)
        finally:
            self.checks.forget(stay)

    async def release(self, key: str, reservation_id: str) -> None:
        await self.inventory.release(key, reservation_id)

    async def update(self, key: str, reservation_id: str, stay: Stay) -> None:
        try:
            await self.inventory.update(key, reservation_id, stay)
        finally:
            self.checks.forget(stay)

    async def reservations(self, booking_id: str) -> list[Hold]:
        return await self.inventory.reservations(booking_id)


class CachedChecks:
    """The inventory's `check`, its answers kept for the slot search."""

    def __init__(self, inventory: Inventory, cache: AnswerCache[Key, Capacity]) -> None:
        self.inventory = inventory
        self.cache = cache

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        key = _key(stay, exclude)
        return await self.cache.get(key, lambda: self.inventory.check(stay, key[-1]))

    def kept_all(
        self,
        place: Place,
        windows: Sequence[tuple[str | None, datetime, datetime]],
        exclude: Sequence[str] = (),
    ) -> list[Capacity | None]:
        venue_id, venue_type, party_size, zone = place
        excluded = tuple(sorted(exclude))
        kept = self.cache.kept
        found: list[Capacity | None] = []
        for unit, start, end in windows:
            key = (venue_id, venue_type, unit, start, end, party_size, zone, excluded)
            found.append(kept(key, functools.partial(self._refresh, key)))
        return found

    def forget(self, stay: Stay) -> None:
        """Forgets the answers kept at the stay's venue for windows that meet its slot (any unit,
        party size or exclusions: a hold takes the venue's seats as well as its unit)."""
        start, end = stay.slot.start, stay.slot.end
        self.cache.forget(stay.venue_id, lambda key: key[3] < end and start < key[4])

    def _refresh(self, key: Key) -> Awaitable[Capacity]:
        """The inventory's check of the stay `key` was made of (a stale answer's refresh)."""
        venue_id, venue_type, unit, start, end, party_size, zone, excluded = key
        return self.inventory.check(
            Stay(venue_id, venue_type, unit, TimeSlot(start, end), party_size, zone), excluded
        )

    async def aclose(self) -> None:
        await self.cache.aclose()


def _key(stay: Stay, exclude: Sequence[str]) -> Key:
    """Everything the inventory's check sends (InventoryClient.check), the ids sorted."""
    slot = stay.slot
    excluded = tuple(sorted(exclude))
    return (
        stay.venue_id,
        stay.venue_type,
        stay.unit_id,
        slot.start,
        slot.end,
        stay.party_size,
        stay.time_zone,
        excluded,
    )


_COUNTERS = {lookup: SLOT_SEARCH_INVENTORY_ANSWERS.labels(lookup.value) for lookup in Lookup}


def _count(lookup: Lookup) -> None:
    _COUNTERS[lookup].inc()


def checks_for_search(inventory: Inventory, max_age: timedelta) -> CachedChecks | None:
    """The slot search's view of the inventory: cached for `max_age`; None when that is 0 (the
    cache off: the search asks the inventory itself, as every other use case does)."""
    seconds = max_age.total_seconds()
    if seconds <= 0:
        return None
    cache: AnswerCache[Key, Capacity] = AnswerCache(
        seconds, size=SEARCH_CACHE_SIZE, observe=_count, group_of=_venue_of
    )
    return CachedChecks(inventory, cache)


def _venue_of(key: Key) -> str:
    return key[0]
