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


#: ISO 4217 currencies whose minor unit is not a hundredth (the exponent: 10**n minor units make one).
_MINOR_UNIT_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"), 0),
    **dict.fromkeys(("UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of an ISO 4217 currency; never a float."""

    amount_minor: int
    currency: str

    def __str__(self) -> str:
        """The amount in major units with its currency, as people read it: `120.00 EUR`, `500 JPY`
        (the number of decimals is the currency's ISO 4217 minor unit; 2 unless listed above)."""
        exponent = _MINOR_UNIT_EXPONENTS.get(self.currency, 2)
        sign = "-" if self.amount_minor < 0 else ""
        major, minor = divmod(abs(self.amount_minor), 10**exponent)
        fraction = f".{minor:0{exponent}d}" if exponent else ""
        return f"{sign}{major}{fraction} {self.currency}"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return self + Money(-other.amount_minor, other.currency)


@dataclass(frozen=True, slots=True)
class TimeSlot:
    """A half-open window [start, end) of UTC instants."""

    start: datetime
    end: datetime

    def overlaps(self, other: TimeSlot) -> bool:
        """Whether the two windows share an instant (half-open: one ending as the other starts
        does not), as the exclusion constraint's `&&` on `[)` ranges decides."""
        return self.start < other.end and other.start < self.end
