"""The tunable rules the use cases follow, built from configuration by bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from booking_service.domain.deadlines import Deadlines
from booking_service.domain.limits import BookingLimits

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    deadlines: Deadlines = field(default_factory=Deadlines)
    idempotency_ttl: timedelta = timedelta(hours=24)
    #: What a booking may be (notice, advance, length, party size): every use case checks these.
    limits: BookingLimits = field(default_factory=BookingLimits)
    #: The zone of a venue that a create names none for and that has none recorded (IANA name).
    default_venue_time_zone: str = "UTC"
    #: How many inventory checks one SearchAvailableSlots runs at a time (SLOT_SEARCH_CONCURRENCY).
    slot_search_concurrency: int = 16
    #: How old an inventory answer SearchAvailableSlots may use (SLOT_SEARCH_CACHE_SECONDS;
    #: refreshed from half that age; 0: the cache is off). service_layer/search_inventory.py.
    slot_search_cache: timedelta = timedelta(seconds=5)
