"""The slot search's shortcuts (domain/slots.py) answer as the general rules do, over random
inputs: a day's candidates by offset subtraction as by converting each wall time's two folds (any
zone, day, step and duration; daylight saving days included), `rules_problems` as rule_problems of
each candidate, `units_held` as every hold compared with every window (TimeSlot.overlaps). Pure:
no database, no peers."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from booking_service.domain import slots
from booking_service.domain.limits import BookingLimits
from booking_service.domain.slots import (
    FIRST_YEAR,
    LAST_YEAR,
    Candidate,
    day_candidates,
    rule_problems,
    rules_problems,
    units_held,
)
from booking_service.domain.values import TimeSlot

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
ZONES = sorted(available_timezones())
#: Days the clocks change on (and the day after), in zones with odd transitions.
CHANGES = [
    ("Europe/Berlin", date(2028, 3, 26)),
    ("Europe/Berlin", date(2028, 10, 29)),
    ("America/New_York", date(2028, 3, 12)),
    ("America/New_York", date(2028, 11, 5)),
    ("Australia/Lord_Howe", date(2028, 4, 2)),  # 30 minutes back
    ("Australia/Lord_Howe", date(2028, 10, 1)),
    ("America/Havana", date(2028, 3, 12)),  # at midnight: local midnight skipped
    ("America/Santiago", date(2028, 4, 2)),
    ("Asia/Beirut", date(2028, 3, 26)),  # at midnight
    ("Pacific/Apia", date(2011, 12, 30)),  # the day skipped whole
    ("Pacific/Apia", date(2011, 12, 29)),
]


def described(found: list[Candidate]) -> list[tuple[object, ...]]:
    """What a candidate is, down to its local start's fields, fold and zone (an aware datetime's
    == compares instants only)."""
    return [
        (
            c.start,
            c.start.tzinfo,
            c.end,
            c.local_start.replace(tzinfo=None),
            c.local_start.fold,
            c.local_start.tzinfo,
        )
        for c in found
    ]


def assert_as_general(day: date, zone: ZoneInfo, step: timedelta, duration: timedelta) -> None:
    general = slots._any_day_candidates(day, zone, step, duration)
    assert described(day_candidates(day, zone, step, duration)) == described(general)
    plain = slots._plain_day_candidates(day, zone, step, duration)
    if plain is not None:  # the shortcut answered
        assert described(plain) == described(general)


steps = st.integers(min_value=5, max_value=24 * 60).map(lambda m: timedelta(minutes=m))
durations = st.integers(min_value=1, max_value=3 * 24 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=500)
@given(
    day=st.dates(min_value=date(FIRST_YEAR, 1, 1), max_value=date(LAST_YEAR, 12, 31)),
    zone=st.sampled_from(ZONES),
    step=steps,
    duration=durations,
)
def test_a_days_candidates_are_the_general_ones_in_any_zone(
    day: date, zone: str, step: timedelta, duration: timedelta
) -> None:
    assert_as_general(day, ZoneInfo(zone), step, duration)


@given(
    change=st.sampled_from(CHANGES),
    shift=st.integers(min_value=-1, max_value=1),
    step=steps,
    duration=durations,
)
def test_a_days_candidates_are_the_general_ones_around_clock_changes(
    change: tuple[str, date], shift: int, step: timedelta, duration: timedelta
) -> None:
    zone, day = change
    assert_as_general(day + timedelta(days=shift), ZoneInfo(zone), step, duration)


def test_a_day_the_clocks_change_in_is_left_to_the_general_way() -> None:
    quarter, hour = timedelta(minutes=15), timedelta(hours=1)
    for zone, day in CHANGES[:4]:
        assert slots._plain_day_candidates(day, ZoneInfo(zone), quarter, hour) is None
    assert slots._plain_day_candidates(date(2028, 6, 1), ZoneInfo("Europe/Berlin"), quarter, hour) is not None


minutes = st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60).map(lambda m: timedelta(minutes=m))
lengths = st.integers(min_value=-60, max_value=3 * 24 * 60).map(lambda m: timedelta(minutes=m))
limits = st.builds(
    BookingLimits,
    min_notice=minutes,
    max_advance=st.integers(min_value=1, max_value=4 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    min_duration=st.integers(min_value=0, max_value=180).map(lambda m: timedelta(minutes=m)),
    max_duration=st.integers(min_value=0, max_value=24 * 60).map(lambda m: timedelta(minutes=m)),
    min_party_size=st.integers(min_value=1, max_value=4),
    max_party_size=st.integers(min_value=1, max_value=12),
)


@given(
    length_choices=st.lists(lengths, min_size=1, max_size=3),
    party=st.integers(min_value=0, max_value=14),
    rules=limits,
    data=st.data(),
)
def test_rules_problems_are_each_candidates_rule_problems(
    length_choices: list[timedelta], party: int, rules: BookingLimits, data: st.DataObject
) -> None:
    """Starts anywhere, and many a minute either side of the notice and advance limits' edges."""
    near = [rules.min_notice, rules.max_advance, timedelta(0)]
    edge = st.tuples(st.sampled_from(near), st.integers(min_value=-2, max_value=2))
    starts = st.one_of(minutes, edge.map(lambda e: e[0] + timedelta(minutes=e[1])))
    candidates = []
    for start, length in data.draw(st.lists(st.tuples(starts, st.sampled_from(length_choices)), max_size=40)):
        candidates.append(Candidate(NOW + start, NOW + start + length, NOW + start))
    found = rules_problems(candidates, party, NOW, rules)
    assert found == [rule_problems(c, party, NOW, rules) for c in candidates]
    for (reasons, broken), (other_reasons, other_broken) in itertools.pairwise(found):  # each its own
        assert reasons is not other_reasons
        assert broken is not other_broken


windows = st.tuples(minutes, st.integers(min_value=1, max_value=24 * 60)).map(
    lambda w: TimeSlot(NOW + w[0], NOW + w[0] + timedelta(minutes=w[1]))
)


@given(
    wanted=st.lists(windows, max_size=60),
    holds=st.lists(st.tuples(windows, st.sampled_from(["a", "b", "c", "d"])), max_size=40),
    by_start=st.booleans(),
)
def test_units_held_is_every_hold_against_every_window(
    wanted: list[TimeSlot], holds: list[tuple[TimeSlot, str]], by_start: bool
) -> None:
    """Any windows (a search's come by start, each as long: both orders are tried)."""
    if by_start:
        wanted.sort(key=lambda w: w.start)
    expected = [{unit for slot, unit in holds if slot.overlaps(w)} for w in wanted]
    assert units_held(wanted, holds) == expected
