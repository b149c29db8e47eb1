"""SearchAvailableSlots: which slots of one length a venue can take a party in over a local day.

Per candidate (domain/slots.py generates them in the venue's zone), in this order:

1. the venue's rules, as CreateBooking applies them (venue_rules.rules_for; read with the venue's
   zone in one statement, venue_zone.rules_and_zone): IN_THE_PAST, OUTSIDE_VENUE_RULES;
2. this service's own bookings, read once for the whole searched span (one statement: those holding
   a unit asked for, and those overdue, a few columns of each: reads.UnitHold) and compared in one
   pass by time (slots.units_held): with units
   asked for, BOOKED when every one is held over a time that meets the candidate's, each time
   widened by its turnover buffers as the exclusion constraint compares them (a booking's frozen
   buffers, the venue's current ones for the candidate); the others stay candidates;
   overdue PENDING bookings do not count, as for CheckAvailability (availability.holds_that_count);
3. the inventory service, only for candidates still open, asked as CreateBooking's reservation
   will be: with units asked for, once for each unit still free here (the unit in the Stay, as
   CheckAvailability asks), since the inventory also holds units this service has no booking for
   (another sales channel, a leftover hold); without units, once for the venue's capacity. Its
   seed API checks one window per call, so a search needs open candidates x free units asked
   answers; it asks for those not kept (below), at most `Policy.slot_search_concurrency` at a
   time, each within the caller's deadline (adapters/peers/http.py); the request is refused
   beforehand when candidates x units asked could pass slots.MAX_INVENTORY_CALLS.
   `free_unit_ids`: the units the inventory accepts.
   SOLD_OUT when it has fewer seats than the party; else BOOKED when it refuses every unit asked.
   `remaining_capacity`: the fewest seats its answers for the candidate name.
   The inventory's answers are kept (`ctx.search_checks`, search_inventory.py) for up to
   `Policy.slot_search_cache` (SLOT_SEARCH_CACHE_SECONDS, 5 s; 0: off, every search asks), by
   everything a check sends (venue, unit or none, window, party size, zone, the reservations not
   counted): an answer younger than half that age is used as it is, an older one is used while
   one background call refreshes it, one past the age is never used; searches that need the same
   missing answer share one call; a failed call is never kept. So an answer may lag the inventory
   by up to that age: a hold made elsewhere (another sales channel) may still be shown free, a
   release still shown taken, until then. This service's own bookings are read fresh from the
   database in step 2 on every search, and a hold this process makes or moves forgets the
   venue's kept answers that meet it (search_inventory.HoldsTold), so a booking just made here
   is never shown available by this process, for its unit nor for the venue's seats; and
   CreateBooking asks the inventory itself, so a slot shown free that the inventory has since
   sold is refused there, never double-booked. Only this search reads the kept answers.

Errors: ValidationFailed (INVALID_ARGUMENT) for a request past its limits, listing every field;
PeerUnavailable (UNAVAILABLE) when any needed inventory answer cannot be had: the search fails
whole, its other calls are cancelled (a call another search shares runs on for it), and no
partial answer is ever returned; PeerRejected as the
inventory's refusal of a request. What the read side raises (a database error).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from booking_service.domain import slots
from booking_service.domain.errors import FieldViolation
from booking_service.domain.limits import BookingLimits
from booking_service.domain.slots import Candidate, SlotReason
from booking_service.domain.validation import Violations
from booking_service.domain.values import TimeSlot
from booking_service.service_layer.availability import holds_that_count
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Capacity, Stay
from booking_service.service_layer.reads import UnitHold
from booking_service.service_layer.venue_zone import rules_and_zone

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SearchSlots:
    venue_id: str
    party_size: int
    duration: timedelta | None
    local_date: date | None = None
    range_start: datetime | None = None
    range_end: datetime | None = None
    #: None when left out (then slots.DEFAULT_STEP).
    step: timedelta | None = None
    unit_ids: tuple[str, ...] = ()
    #: Whether a time range was given at all (its times may still be missing).
    has_range: bool = False
    unreadable: tuple[FieldViolation, ...] = ()


@dataclass(frozen=True, slots=True)
class SlotAnswer:
    candidate: Candidate
    reasons: list[SlotReason] = field(default_factory=list)
    rule_violations: list[FieldViolation] = field(default_factory=list)
    free_unit_ids: list[str] = field(default_factory=list)
    #: The inventory's free seats over the slot; None when it was not asked.
    remaining_capacity: int | None = None

    @property
    def available(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class SlotSearch:
    time_zone: str
    slots: list[SlotAnswer]


async def search_available_slots(query: SearchSlots, *, ctx: Context) -> SlotSearch:
    now = ctx.clock()
    _validate(query)
    rules, zone_name = await rules_and_zone(query.venue_id, ctx=ctx)
    candidates = _candidates(query, ZoneInfo(zone_name))
    _within_inventory_budget(query, len(candidates))
    if not candidates:
        return SlotSearch(zone_name, [])
    limits = rules.limits
    span = limits.blocked(TimeSlot(candidates[0].start, max(c.end for c in candidates)))
    # One read of the venue's active bookings over the whole span; the reservations of those that
    # do not count (overdue PENDING) are left out of every inventory check, as CheckAvailability does.
    # Of those, only the ones holding a unit asked for count here (and none with no unit asked).
    holds = await ctx.reads.unit_holds(query.venue_id, span, query.unit_ids, now)
    counted, not_counted = holds_that_count(holds, now)
    answers = _locally(candidates, query, now, limits, counted)
    # (candidate index, unit or None for the venue's capacity) for every inventory check needed
    asks = [
        (i, unit)
        for i, a in enumerate(answers)
        if a.available
        for unit in (a.free_unit_ids if query.unit_ids else [None])
    ]
    capacities = await _inventory_answers(
        query, zone_name, [(answers[i].candidate, u) for i, u in asks], not_counted, ctx
    )
    said: dict[int, list[tuple[str | None, Capacity]]] = {}
    for (i, unit), capacity in zip(asks, capacities, strict=True):
        said.setdefault(i, []).append((unit, capacity))
    for i, pairs in said.items():
        answers[i] = _inventory_says(answers[i].candidate, query.party_size, pairs)
    return SlotSearch(zone_name, answers)


def _inventory_says(
    candidate: Candidate, party_size: int, pairs: list[tuple[str | None, Capacity]]
) -> SlotAnswer:
    """A candidate still open here, as the inventory's answers for it (one per unit asked, or one
    for the venue) leave it."""
    remaining = pairs[0][1].remaining
    free: list[str] = []
    every_one = True
    for unit, capacity in pairs:
        remaining = min(remaining, capacity.remaining)
        if not capacity.available:
            every_one = False
        elif unit is not None:
            free.append(unit)
    if every_one or free:
        reasons: list[SlotReason] = []
    elif remaining < party_size or pairs[0][0] is None:
        reasons = [SlotReason.SOLD_OUT]
    else:
        reasons = [SlotReason.BOOKED]  # room for the party, but every unit asked is held there
    return SlotAnswer(candidate, reasons, [], free, remaining)


def _validate(query: SearchSlots) -> None:
    v = Violations(query.unreadable)
    v.identifier("venue_id", query.venue_id)
    if query.party_size < 1:
        v.add("party_size", "is required: the number of people, at least 1")
    if query.duration is None:
        v.add("duration", "is required: how long each slot lasts")
    elif not timedelta(0) < query.duration <= slots.MAX_DURATION:
        v.add("duration", f"must be positive and at most {slots.MAX_DURATION.days} days")
    if query.step is not None and not slots.MIN_STEP <= query.step <= slots.MAX_STEP:
        v.add("slot_step", "must be at least 5 minutes and at most 1 day (default 15 minutes)")
    if len(query.unit_ids) > slots.MAX_UNITS:
        v.add("unit_ids", f"must name at most {slots.MAX_UNITS} units")
    for i, unit_id in enumerate(query.unit_ids):
        v.identifier(f"unit_ids[{i}]", unit_id)
    if len(set(query.unit_ids)) != len(query.unit_ids):
        v.add("unit_ids", "must not name a unit twice")
    if query.has_range == (query.local_date is not None):
        v.add("local_date", "exactly one of local_date and time_range is required")
    elif query.local_date is not None and not slots.FIRST_YEAR <= query.local_date.year <= slots.LAST_YEAR:
        v.add("local_date", f"must be in the years {slots.FIRST_YEAR} to {slots.LAST_YEAR}")
    elif query.has_range:
        for name, value in (("start_time", query.range_start), ("end_time", query.range_end)):
            if value is None:
                v.add(f"time_range.{name}", "is required")
            elif not slots.FIRST_YEAR <= value.year <= slots.LAST_YEAR:
                v.add(f"time_range.{name}", f"must be in the years {slots.FIRST_YEAR} to {slots.LAST_YEAR}")
        start, end = query.range_start, query.range_end
        if start is not None and end is not None and end <= start:
            v.add("time_range.end_time", "must be after time_range.start_time")
    v.raise_if_any()


def _candidates(query: SearchSlots, zone: ZoneInfo) -> list[Candidate]:
    step = query.step or slots.DEFAULT_STEP
    assert query.duration is not None  # _validate
    try:
        if query.local_date is not None:
            return slots.day_candidates(query.local_date, zone, step, query.duration)
        assert query.range_start is not None and query.range_end is not None  # _validate
        return slots.range_candidates(query.range_start, query.range_end, zone, step, query.duration)
    except slots.TooManySlots as error:
        v = Violations()
        v.add(
            "slot_step",
            f"gives too many slots: {error}; at most {slots.MAX_SLOTS} per call (ask a shorter "
            "time_range or a longer slot_step)",
        )
        v.raise_if_any()
        raise  # unreachable: raise_if_any raised


def _within_inventory_budget(query: SearchSlots, candidates: int) -> None:
    """Refuses a request whose inventory checks (candidates x units asked, before knowing which
    are open) could pass MAX_INVENTORY_CALLS, naming the fields and the arithmetic."""
    units = max(1, len(query.unit_ids))
    if candidates * units <= slots.MAX_INVENTORY_CALLS:
        return
    v = Violations()
    why = (
        f"{candidates} slots x {units} unit_ids = {candidates * units} inventory checks, more than "
        f"{slots.MAX_INVENTORY_CALLS} per call"
    )
    v.add("unit_ids", f"too many for this search: {why} (ask fewer unit_ids)")
    v.add("slot_step", f"gives too many checks: {why} (ask a longer slot_step or a shorter span)")
    v.raise_if_any()


def _locally(
    candidates: list[Candidate],
    query: SearchSlots,
    now: datetime,
    limits: BookingLimits,
    counted: list[UnitHold],
) -> list[SlotAnswer]:
    """What the rules and this service's bookings say of each candidate: BOOKED when every unit
    asked is held over it by a booking of this service (its blocked time meeting the candidate's)."""
    problems = slots.rules_problems(candidates, query.party_size, now, limits)
    if not query.unit_ids:
        return [
            SlotAnswer(c, reasons, broken, [])
            for c, (reasons, broken) in zip(candidates, problems, strict=True)
        ]
    asked = set(query.unit_ids)
    holds = [(b.blocked, b.unit_id) for b in counted if b.unit_id and b.unit_id in asked]
    before, after = limits.buffer_before, limits.buffer_after  # limits.blocked of each candidate
    wanted = [TimeSlot(c.start - before, c.end + after) for c in candidates]
    held = slots.units_held(wanted, holds)
    answers: list[SlotAnswer] = []
    for candidate, (reasons, broken), taken in zip(candidates, problems, held, strict=True):
        free = [u for u in query.unit_ids if u not in taken]
        if not free:
            reasons.append(SlotReason.BOOKED)
        answers.append(SlotAnswer(candidate, reasons, broken, free))
    return answers


def _stay(query: SearchSlots, zone: str, candidate: Candidate, unit: str | None) -> Stay:
    slot = TimeSlot(candidate.start, candidate.end)
    return Stay(query.venue_id, None, unit, slot, query.party_size, zone)


async def _inventory_answers(
    query: SearchSlots,
    zone: str,
    asks: list[tuple[Candidate, str | None]],
    not_counted: Sequence[str],
    ctx: Context,
) -> list[Capacity]:
    """The inventory's answer for each (candidate, unit or None) asked, in order: those kept
    (ctx.search_checks) at once, with no task or stay built each; the others asked, at most
    `Policy.slot_search_concurrency` at a time."""
    kept = ctx.search_checks
    known: list[Capacity | None]
    if kept is not None:
        place = (query.venue_id, None, query.party_size, zone)
        known = kept.kept_all(place, [(unit, c.start, c.end) for c, unit in asks], not_counted)
    else:
        known = [None] * len(asks)
    missing = [j for j, capacity in enumerate(known) if capacity is None]
    checks = kept or ctx.peers.inventory
    asked = await _bounded(
        [functools.partial(checks.check, _stay(query, zone, *asks[j]), not_counted) for j in missing],
        ctx.policy.slot_search_concurrency,
    )
    for j, capacity in zip(missing, asked, strict=True):
        known[j] = capacity
    return [capacity for capacity in known if capacity is not None]


async def _bounded(calls: list[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Runs the calls, at most `limit` at a time, answers in order. The first failure cancels the
    others and is raised as itself (not in an exception group)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(call)) for call in calls]
    except BaseExceptionGroup as failures:
        first = failures.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]
