"""Candidate slots for a search, and the venue's rules each one keeps or breaks: pure, no I/O.

Candidates over a local day are generated on the venue's wall clock: every `step` from local
midnight to the end of the day, each local time mapped to the UTC instants it names. On the day
daylight saving time starts, the local times the clocks skip name no instant and give no candidate;
on the day it ends, the local times they repeat name two instants (fold 0, then fold 1) and give
two candidates. A slot lasts `duration` of real time from its UTC start, whatever the clocks do.
A day none of whose stepped wall times is skipped or repeated (nearly all) is worked out by
subtracting each one's offset; any other day by converting each time's two folds and back.

Over a time range (UTC instants), candidates are every `step` of elapsed time from its start.

The rules a candidate breaks are checked by the same rules a create is (validation.Violations.new_slot
and party_size), with the same limits object, so that a slot answered "outside the rules" is one
CreateBooking refuses and no other. `rules_problems` answers for a search's candidates at once:
what a candidate whose start keeps the notice and advance limits breaks depends only on its length
and the party, so it is worked out once per length. `units_held` says which units a search's
bookings hold over each candidate, in one pass over them by time.

Limits of the search itself (module constants, documented on the proto): MIN_STEP, MAX_STEP,
MAX_SLOTS, MAX_DURATION, MAX_UNITS, MAX_INVENTORY_CALLS, FIRST_YEAR and LAST_YEAR; generating
more than MAX_SLOTS candidates raises TooManySlots.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking_service.domain.errors import FieldViolation
from booking_service.domain.limits import BookingLimits
from booking_service.domain.validation import Violations
from booking_service.domain.values import TimeSlot

DEFAULT_STEP = timedelta(minutes=15)
MIN_STEP = timedelta(minutes=5)
MAX_STEP = timedelta(days=1)
#: A 25-hour local day (the day daylight saving time ends) at the 5-minute minimum step.
MAX_SLOTS = 300
MAX_DURATION = timedelta(days=366)
MAX_UNITS = 20
#: Inventory checks one search may need at most: candidates x units asked (x 1 with none asked),
#: counted before any is made. A day of 15-minute slots for 10 units, or of 5-minute slots for 3.
MAX_INVENTORY_CALLS = 960
#: The years a search may cover: a slot's end (start + MAX_DURATION), in any zone and widened by the
#: longest turnover buffer (a day), stays a valid instant (year 9999 at most).
FIRST_YEAR, LAST_YEAR = 1970, 9997


class SlotReason(enum.Enum):
    """Why a slot cannot be booked, in the order answers list them."""

    IN_THE_PAST = "IN_THE_PAST"
    OUTSIDE_VENUE_RULES = "OUTSIDE_VENUE_RULES"
    BOOKED = "BOOKED"
    SOLD_OUT = "SOLD_OUT"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate slot: UTC instants [start, end), and the start on the venue's wall clock."""

    start: datetime
    end: datetime
    local_start: datetime


class TooManySlots(ValueError):
    """More candidates than MAX_SLOTS: the caller asks a shorter range or a longer step."""


def day_candidates(day: date, zone: ZoneInfo, step: timedelta, duration: timedelta) -> list[Candidate]:
    """The candidates of local day `day` in `zone`, by UTC start. `step` (at least MIN_STEP) is
    wall-clock time from local midnight. Raises TooManySlots past MAX_SLOTS."""
    plain = _plain_day_candidates(day, zone, step, duration)
    return plain if plain is not None else _any_day_candidates(day, zone, step, duration)


def _plain_day_candidates(
    day: date, zone: ZoneInfo, step: timedelta, duration: timedelta
) -> list[Candidate] | None:
    """day_candidates of a day none of whose wall times the clocks skip or repeat (most days, and
    a transition day whose steps all miss the skipped or repeated times): each wall time names the
    one instant its offset gives, computed by subtraction; None as soon as one does not (its two
    folds' offsets differ, PEP 495), for _any_day_candidates to answer."""
    found: list[Candidate] = []
    wall = datetime.combine(day, time(0))
    offset_of = zone.utcoffset
    while wall.date() == day:
        offset = offset_of(wall)
        if offset is None or offset != offset_of(wall.replace(fold=1)):
            return None
        start = (wall - offset).replace(tzinfo=UTC)
        found.append(Candidate(start, start + duration, wall.replace(tzinfo=zone)))
        if len(found) > MAX_SLOTS:
            raise TooManySlots(f"a local day at this step has more than {MAX_SLOTS} slots")
        wall += step
    return found


def _any_day_candidates(day: date, zone: ZoneInfo, step: timedelta, duration: timedelta) -> list[Candidate]:
    """day_candidates of any day: each wall time's two folds mapped to UTC and kept when they
    name that wall time again."""
    starts: set[datetime] = set()
    wall = datetime.combine(day, time(0))
    while wall.date() == day:
        for fold in (0, 1):
            local = wall.replace(tzinfo=zone, fold=fold)
            instant = local.astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == wall:  # else a skipped local time
                starts.add(instant)
        if len(starts) > MAX_SLOTS:
            raise TooManySlots(f"a local day at this step has more than {MAX_SLOTS} slots")
        wall += step
    return [Candidate(s, s + duration, s.astimezone(zone)) for s in sorted(starts)]


def range_candidates(
    start: datetime, end: datetime, zone: ZoneInfo, step: timedelta, duration: timedelta
) -> list[Candidate]:
    """Candidates from `start` (inclusive) every `step` of elapsed time while before `end`.
    Raises TooManySlots past MAX_SLOTS, before generating any."""
    count = max(0, -((start - end) // step))  # ceil((end - start) / step)
    if count > MAX_SLOTS:
        raise TooManySlots(f"the range at this step has {count} slots, more than {MAX_SLOTS}")
    firsts = (start + i * step for i in range(count))
    return [Candidate(s, s + duration, s.astimezone(zone)) for s in firsts]


def rule_problems(
    candidate: Candidate, party_size: int, now: datetime, limits: BookingLimits
) -> tuple[list[SlotReason], list[FieldViolation]]:
    """The reasons the venue's rules make `candidate` unbookable at `now`, and each broken rule as
    CreateBooking words it. IN_THE_PAST when the start is before now and breaks the minimum
    notice; OUTSIDE_VENUE_RULES for any other broken rule (notice, advance, duration, party)."""
    v = Violations()
    v.new_slot(candidate.start, candidate.end, now, limits, check_past=True)
    v.party_size("party_size", party_size, limits)
    reasons: list[SlotReason] = []
    too_soon = candidate.start < now + limits.min_notice
    if too_soon and candidate.start < now:
        reasons.append(SlotReason.IN_THE_PAST)
    others = [p for p in v.items if not (too_soon and candidate.start < now and p.field == "start_time")]
    if others:
        reasons.append(SlotReason.OUTSIDE_VENUE_RULES)
    return reasons, v.items


def rules_problems(
    candidates: Sequence[Candidate], party_size: int, now: datetime, limits: BookingLimits
) -> list[tuple[list[SlotReason], list[FieldViolation]]]:
    """rule_problems of each candidate, in order. A candidate whose start neither comes too soon
    nor lies too far ahead breaks only rules of its length and the party (new_slot's end checks,
    party_size): those are worked out once per length and copied."""
    earliest, latest = now + limits.min_notice, now + limits.max_advance
    by_length: dict[timedelta, tuple[list[SlotReason], list[FieldViolation]]] = {}
    found: list[tuple[list[SlotReason], list[FieldViolation]]] = []
    for candidate in candidates:
        if not earliest <= candidate.start <= latest:
            found.append(rule_problems(candidate, party_size, now, limits))
            continue
        length = candidate.end - candidate.start
        known = by_length.get(length)
        if known is None:
            known = by_length[length] = rule_problems(candidate, party_size, now, limits)
        found.append((list(known[0]), list(known[1])))
    return found


def units_held(windows: Sequence[TimeSlot], holds: Iterable[tuple[TimeSlot, str]]) -> list[set[str]]:
    """For each window, the units whose holds (the time a hold keeps its unit, the unit) overlap it
    (TimeSlot.overlaps). One pass: the windows by start, the holds by start; a hold is looked at
    from the first window that ends after it starts until the first that starts after it ends."""
    pending = sorted(holds, key=lambda hold: hold[0].start)
    held: list[set[str]] = [set() for _ in windows]
    active: list[tuple[TimeSlot, str]] = []
    added = 0
    for i in sorted(range(len(windows)), key=lambda i: windows[i].start):
        window = windows[i]
        while added < len(pending) and pending[added][0].start < window.end:
            active.append(pending[added])
            added += 1
        # a hold ended by this window's start ends before every later window's (they start no earlier)
        active = [hold for hold in active if window.start < hold[0].end]
        held[i] = {unit for slot, unit in active if slot.start < window.end}
    return held
