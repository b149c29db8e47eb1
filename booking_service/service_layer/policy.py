"""The tunable rules the use cases follow, built from configuration by bootstrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from booking_service.domain.deadlines import Deadlines

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Policy:
    deadlines: Deadlines = field(default_factory=Deadlines)
    idempotency_ttl: timedelta = timedelta(hours=24)
    #: The zone of a venue that a create names none for and that has none recorded (IANA name).
    default_venue_time_zone: str = "UTC"
