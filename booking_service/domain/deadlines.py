"""When time-driven transitions become due: a pending booking's expiry and a no-show.

All instants are UTC; the venue's IANA time zone decides where a local day ends, so the rules hold on
the days daylight saving time starts and ends (a local day is then 23 or 25 hours long).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from booking_service.domain.values import Venue, VenueType


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The configurable waits: how long a booking may stay PENDING, how late a guest may be."""

    pending_timeout: timedelta = timedelta(minutes=15)
    no_show_grace: timedelta = timedelta(minutes=30)

    def expiry(self, created: datetime) -> datetime:
        return created + self.pending_timeout

    def no_show_after(self, venue: Venue, start: datetime) -> datetime:
        """A hotel guest may arrive until the end of the arrival day (venue time); others until
        the grace period after the start has passed."""
        if venue.venue_type is VenueType.HOTEL:
            return max(end_of_local_day(venue, start), start + self.no_show_grace)
        return start + self.no_show_grace


def end_of_local_day(venue: Venue, instant: datetime) -> datetime:
    """The instant the venue's local calendar day containing `instant` ends (the next local midnight)."""
    zone = venue.zone
    next_day = instant.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(next_day, time(0), tzinfo=zone).astimezone(UTC)


def start_of_local_day(venue: Venue, instant: datetime) -> datetime:
    zone = venue.zone
    day = instant.astimezone(zone).date()
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
