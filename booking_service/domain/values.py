"""Value objects of the booking domain: immutable, compared by value."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


class VenueType(enum.Enum):
    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    RETAIL_EXPERIENCE = "RETAIL_EXPERIENCE"


class ChangeSource(enum.Enum):
    """Through what a change was made: a caller of the API, or the service itself."""

    API = "API"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and through what; recorded in every history row."""

    actor_id: str
    source: ChangeSource

    @classmethod
    def system(cls, name: str = "booking-service") -> Actor:
        return cls(name, ChangeSource.SYSTEM)


@dataclass(frozen=True, slots=True)
class Guest:
    guest_id: str
    name: str
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Venue:
    venue_id: str
    venue_type: VenueType
    name: str
    time_zone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_date(self, instant: datetime) -> date:
        """The calendar date of an instant at the venue (what "the venue's day" means)."""
        return instant.astimezone(self.zone).date()


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of an ISO 4217 currency; never a float."""

    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class TimeSlot:
    """A half-open window [start, end) of UTC instants."""

    start: datetime
    end: datetime
