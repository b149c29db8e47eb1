"""The slot search's shortcuts (domain/slots.py) answer as the one-candidate rules do, over random
inputs: `rules_problems` as rule_problems of each candidate, `units_held` as every hold compared
with every window (TimeSlot.overlaps). Pure: no database, no peers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from booking_service.domain.limits import BookingLimits
from booking_service.domain.slots import Candidate, rule_problems, rules_problems, units_held
from booking_service.domain.values import TimeSlot

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
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
