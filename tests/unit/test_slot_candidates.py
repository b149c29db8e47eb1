"""Candidate slots in the venue's zone (domain/slots.py), daylight saving days included, and the
rules each candidate breaks, as CreateBooking words them. Pure: no database, no peers."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking_service.domain.limits import BookingLimits
from booking_service.domain.slots import (
    MAX_SLOTS,
    Candidate,
    SlotReason,
    TooManySlots,
    day_candidates,
    range_candidates,
    rule_problems,
)
from booking_service.domain.validation import Violations

QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def test_a_normal_day_has_96_quarter_hours_from_local_midnight() -> None:
    slots = day_candidates(date(2028, 6, 1), BERLIN, QUARTER, 2 * HOUR)
    assert len(slots) == 96
    assert slots[0].start == datetime(2028, 5, 31, 22, tzinfo=UTC)  # 00:00 CEST
    assert slots[-1].start == datetime(2028, 6, 1, 21, 45, tzinfo=UTC)
    assert all(s.end - s.start == 2 * HOUR for s in slots)
    assert slots[0].local_start.isoformat() == "2028-06-01T00:00:00+02:00"


@pytest.mark.parametrize(
    ("zone", "day", "skipped_utc"),
    [
        # Berlin: 02:00 CET becomes 03:00 CEST (01:00Z): local 02:00-02:45 do not exist.
        (BERLIN, date(2028, 3, 26), datetime(2028, 3, 26, 1, tzinfo=UTC)),
        # New York: 02:00 EST becomes 03:00 EDT (07:00Z).
        (NEW_YORK, date(2028, 3, 12), datetime(2028, 3, 12, 7, tzinfo=UTC)),
    ],
)
def test_the_day_clocks_go_forward_has_no_slot_in_the_skipped_hour(
    zone: ZoneInfo, day: date, skipped_utc: datetime
) -> None:
    slots = day_candidates(day, zone, QUARTER, HOUR)
    assert len(slots) == 92
    locals_ = [s.local_start.strftime("%H:%M") for s in slots]
    assert not [t for t in locals_ if t.startswith("02:")]
    starts = [s.start for s in slots]
    # the slot before the gap (01:45 standard time) and the first after it (03:00 summer time)
    # are 15 minutes apart in real time
    i = locals_.index("03:00")
    assert starts[i] == skipped_utc
    assert starts[i] - starts[i - 1] == QUARTER
    assert all(b - a == QUARTER for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(
    ("zone", "day", "repeated", "first_utc", "offsets"),
    [
        (BERLIN, date(2028, 10, 29), "02:", datetime(2028, 10, 29, 0, tzinfo=UTC), ("+02:00", "+01:00")),
        (NEW_YORK, date(2028, 11, 5), "01:", datetime(2028, 11, 5, 5, tzinfo=UTC), ("-04:00", "-05:00")),
    ],
)
def test_the_day_clocks_go_back_has_both_instants_of_the_repeated_hour(
    zone: ZoneInfo, day: date, repeated: str, first_utc: datetime, offsets: tuple[str, str]
) -> None:
    slots = day_candidates(day, zone, QUARTER, 2 * HOUR)
    assert len(slots) == 100
    twice = [s for s in slots if s.local_start.strftime("%H:").startswith(repeated)]
    assert len(twice) == 8
    assert [s.start for s in twice] == [first_utc + i * QUARTER for i in range(8)]
    assert [s.local_start.isoformat()[-6:] for s in twice] == [offsets[0]] * 4 + [offsets[1]] * 4
    assert len({s.start for s in slots}) == 100
    assert all(s.end - s.start == 2 * HOUR for s in slots)  # real time, across the change


#: Days the clocks change (Lord Howe by half an hour; Tehran kept DST until 2022).
CHANGES = [
    ("Europe/Berlin", date(2028, 3, 26)),
    ("Europe/Berlin", date(2028, 10, 29)),
    ("America/New_York", date(2028, 3, 12)),
    ("America/New_York", date(2028, 11, 5)),
    ("Australia/Lord_Howe", date(2028, 4, 2)),
    ("Australia/Lord_Howe", date(2028, 10, 1)),
    ("Asia/Tehran", date(2021, 3, 22)),
    ("Asia/Tehran", date(2021, 9, 22)),
]


@pytest.mark.parametrize(("zone", "day"), CHANGES)
@pytest.mark.parametrize("step_minutes", [5, 7, 15, 25, 45, 90])
def test_no_candidate_on_a_skipped_or_shifted_wall_time(zone: str, day: date, step_minutes: int) -> None:
    """A local time the clocks skip must not turn into the instant of another local time (02:05
    skipped in Berlin is 01:05Z, which is 03:05 summer time: no step of 25 minutes from midnight)."""
    assert_wall_clock_steps(day, zone, step_minutes)


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Tehran", "UTC"]),
    step_minutes=st.integers(min_value=5, max_value=24 * 60),
)
def test_every_candidate_is_a_wall_clock_step_of_that_day(day: date, zone: str, step_minutes: int) -> None:
    assert_wall_clock_steps(day, zone, step_minutes)


def assert_wall_clock_steps(day: date, zone: str, step_minutes: int) -> None:
    tz = ZoneInfo(zone)
    step = timedelta(minutes=step_minutes)
    slots = day_candidates(day, tz, step, HOUR)
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts))
    for s in slots:
        assert s.local_start.date() == day
        assert s.local_start.astimezone(UTC) == s.start
        minutes = s.local_start.hour * 60 + s.local_start.minute
        assert minutes % step_minutes == 0
    assert 0 < len(slots) <= MAX_SLOTS


def test_a_time_range_steps_in_elapsed_time_and_is_bounded() -> None:
    start = datetime(2028, 10, 29, 0, tzinfo=UTC)
    slots = range_candidates(start, start + 3 * HOUR, BERLIN, timedelta(minutes=20), HOUR)
    assert [s.start for s in slots] == [start + i * timedelta(minutes=20) for i in range(9)]
    range_candidates(start, start + MAX_SLOTS * QUARTER, BERLIN, QUARTER, HOUR)
    with pytest.raises(TooManySlots, match="301 slots, more than 300"):
        range_candidates(start, start + MAX_SLOTS * QUARTER + timedelta(seconds=1), BERLIN, QUARTER, HOUR)


NOW = datetime(2028, 6, 1, 12, tzinfo=UTC)


def slot_at(start: datetime, length: timedelta = HOUR) -> Candidate:
    return Candidate(start, start + length, start)


def create_refusals(c: Candidate, party: int, limits: BookingLimits) -> list[str]:
    v = Violations()
    v.new_slot(c.start, c.end, NOW, limits, check_past=True)
    v.party_size("party_size", party, limits)
    return [p.field for p in v.items]


@pytest.mark.parametrize(
    ("candidate", "party", "reasons"),
    [
        (slot_at(NOW + HOUR), 2, []),
        (slot_at(NOW - timedelta(minutes=4)), 2, []),  # within the 5-minute grace of min_notice
        (slot_at(NOW - timedelta(minutes=6)), 2, [SlotReason.IN_THE_PAST]),
        (slot_at(NOW - HOUR), 200, [SlotReason.IN_THE_PAST, SlotReason.OUTSIDE_VENUE_RULES]),
        (slot_at(NOW + HOUR), 101, [SlotReason.OUTSIDE_VENUE_RULES]),
        (slot_at(NOW + timedelta(days=1200)), 2, [SlotReason.OUTSIDE_VENUE_RULES]),
        (slot_at(NOW + HOUR, timedelta(days=91)), 2, [SlotReason.OUTSIDE_VENUE_RULES]),
    ],
)
def test_rules_are_the_creates(candidate: Candidate, party: int, reasons: list[SlotReason]) -> None:
    limits = BookingLimits()
    found, broken = rule_problems(candidate, party, NOW, limits)
    assert found == reasons
    assert [p.field for p in broken] == create_refusals(candidate, party, limits)


def test_a_start_too_soon_but_not_past_is_outside_the_rules() -> None:
    limits = BookingLimits(
        min_notice=timedelta(hours=2), sources={"min_notice": "BOOKING_MIN_NOTICE_SECONDS"}
    )
    found, broken = rule_problems(slot_at(NOW + HOUR), 2, NOW, limits)
    assert found == [SlotReason.OUTSIDE_VENUE_RULES]
    assert broken[0].description == "must be at least 2 hours from now (BOOKING_MIN_NOTICE_SECONDS)"
