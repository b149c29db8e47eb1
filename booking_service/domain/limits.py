"""The limits every booking keeps: how soon and how far ahead it may start, how long it may last, and
how many people it may be for.

The domain only receives them (a value object, built by config.py from the BOOKING_* settings, and
per venue by venue_policy.py, with the settings as its defaults). Each refusal
names the broken limit's value and where that value comes from (`sources`: a setting's name), so
that a caller can tell which rule said no and an operator which setting to look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from booking_service.domain.values import TimeSlot

#: The limits' names, as `sources` keys them (the fields of BookingLimits).
LIMITS = (
    "min_notice",
    "max_advance",
    "min_duration",
    "max_duration",
    "min_party_size",
    "max_party_size",
    "buffer_before",
    "buffer_after",
)
#: The longest turnover buffer either side of a booking (a day): a sane upper bound, so that a
#: typo cannot block a unit for months.
MAX_BUFFER = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BookingLimits:
    """The limits, with the service's defaults. Durations are timedeltas, party sizes people."""

    #: The least time between now and a booking's start. Negative lets a start lie that far in the
    #: past (a walk-in booked as they sit down, a client's clock a little behind): five minutes.
    min_notice: timedelta = timedelta(minutes=-5)
    #: The furthest ahead of now a booking may start: three years of 366 days.
    max_advance: timedelta = timedelta(days=3 * 366)
    #: The shortest booking; its end lies after its start whatever this says (0: any length).
    min_duration: timedelta = timedelta(0)
    #: The longest booking (a 90-night stay).
    max_duration: timedelta = timedelta(days=90)
    min_party_size: int = 1
    max_party_size: int = 100
    #: Turnover time before a booking's start and after its end: a booking on a unit blocks it over
    #: [start - buffer_before, end + buffer_after) (the database's exclusion constraint). 0 to MAX_BUFFER.
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    #: Where each limit's value comes from, by limit name (`max_party_size` ->
    #: `BOOKING_MAX_PARTY_SIZE`), named in refusals; a limit not listed is named by itself.
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, limit: str) -> str:
        """What sets `limit` (a setting's name), for a refusal to name."""
        return self.sources.get(limit, limit)

    def problems(self) -> list[str]:
        """Why these limits cannot be kept together (each a sentence naming the sources); empty
        when they can."""
        found: list[str] = []
        name = self.source
        if self.min_party_size < 1:
            found.append(f"{name('min_party_size')} must be at least 1, not {self.min_party_size}")
        if self.max_party_size < self.min_party_size:
            found.append(
                f"{name('max_party_size')} ({self.max_party_size}) must be at least "
                f"{name('min_party_size')} ({self.min_party_size})"
            )
        if self.max_advance <= max(self.min_notice, timedelta(0)):
            found.append(
                f"{name('max_advance')} ({span(self.max_advance)}) must be positive and longer than "
                f"{name('min_notice')} ({span(self.min_notice)})"
            )
        if self.min_duration < timedelta(0):
            found.append(f"{name('min_duration')} must not be negative, not {span(self.min_duration)}")
        if self.max_duration < self.min_duration:
            found.append(
                f"{name('max_duration')} ({span(self.max_duration)}) must be at least "
                f"{name('min_duration')} ({span(self.min_duration)})"
            )
        for buffer in ("buffer_before", "buffer_after"):
            value: timedelta = getattr(self, buffer)
            if not timedelta(0) <= value <= MAX_BUFFER:
                found.append(f"{name(buffer)} must be from 0 to {span(MAX_BUFFER)}, not {span(value)}")
        return found

    def blocked(self, slot: TimeSlot) -> TimeSlot:
        """The time a booking over `slot` blocks its unit: [start - buffer_before, end + buffer_after)."""
        return TimeSlot(slot.start - self.buffer_before, slot.end + self.buffer_after)

    def with_sources(self, sources: Mapping[str, str]) -> BookingLimits:
        """The same limits, with `sources` naming where each listed one comes from."""
        return replace(self, sources={**self.sources, **sources})


_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def span(value: timedelta) -> str:
    """A duration as people read it, in the largest unit that divides it: `90 days`, `5 minutes`,
    `-5 minutes`, `90 seconds`."""
    seconds = value.total_seconds()
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g} seconds"
    for unit, size in _UNITS:
        if whole and whole % size == 0:
            count = whole // size
            return f"{count} {unit}" + ("" if abs(count) == 1 else "s")
    return f"{whole} second" + ("" if abs(whole) == 1 else "s")
