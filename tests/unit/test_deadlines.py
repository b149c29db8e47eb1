"""Local days at a venue, on ordinary days and on the days daylight saving time starts and ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from booking_service.domain.deadlines import Deadlines, end_of_local_day, start_of_local_day
from booking_service.domain.values import Venue, VenueType

BERLIN_HOTEL = Venue("h", VenueType.HOTEL, "Hotel", "Europe/Berlin")
NEW_YORK_CAFE = Venue("c", VenueType.CAFE, "Cafe", "America/New_York")


@pytest.mark.parametrize(
    ("venue", "day", "hours"),
    [
        (BERLIN_HOTEL, date(2030, 3, 30), 24),
        (BERLIN_HOTEL, date(2030, 3, 31), 23),  # clocks go forward at 02:00
        (BERLIN_HOTEL, date(2030, 10, 27), 25),  # clocks go back at 03:00
        (NEW_YORK_CAFE, date(2030, 3, 10), 23),
        (NEW_YORK_CAFE, date(2030, 11, 3), 25),
    ],
)
def test_a_local_day_lasts_as_long_as_the_clocks_say(venue: Venue, day: date, hours: int) -> None:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=venue.zone).astimezone(UTC)
    assert end_of_local_day(venue, noon) - start_of_local_day(venue, noon) == timedelta(hours=hours)
    assert venue.local_date(start_of_local_day(venue, noon)) == day
    assert venue.local_date(end_of_local_day(venue, noon) - timedelta(microseconds=1)) == day


def test_the_local_date_of_an_instant_follows_the_venue() -> None:
    late_evening_utc = datetime(2030, 10, 26, 22, 30, tzinfo=UTC)
    assert BERLIN_HOTEL.local_date(late_evening_utc) == date(2030, 10, 27)  # 00:30 CEST
    assert NEW_YORK_CAFE.local_date(late_evening_utc) == date(2030, 10, 26)  # 18:30 EDT


@pytest.mark.parametrize(
    ("arrival_utc", "no_show_after_utc"),
    [
        # 15:00 CEST on the 23-hour day: the arrival day ends at 22:00 UTC.
        (datetime(2030, 3, 31, 13, tzinfo=UTC), datetime(2030, 3, 31, 22, tzinfo=UTC)),
        # 15:00 CET on the 25-hour day: the arrival day ends at 23:00 UTC.
        (datetime(2030, 10, 27, 14, tzinfo=UTC), datetime(2030, 10, 27, 23, tzinfo=UTC)),
        # 23:50 local: the grace period outlasts the day.
        (datetime(2030, 6, 1, 21, 50, tzinfo=UTC), datetime(2030, 6, 1, 22, 20, tzinfo=UTC)),
    ],
)
def test_a_hotel_guest_is_a_no_show_once_the_local_arrival_day_is_over(
    arrival_utc: datetime, no_show_after_utc: datetime
) -> None:
    assert Deadlines().no_show_after(BERLIN_HOTEL, arrival_utc) == no_show_after_utc


def test_other_venues_wait_for_the_grace_period() -> None:
    start = datetime(2030, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT, half an hour before the clocks go back
    deadlines = Deadlines(no_show_grace=timedelta(minutes=45))
    assert deadlines.no_show_after(NEW_YORK_CAFE, start) == start + timedelta(minutes=45)
