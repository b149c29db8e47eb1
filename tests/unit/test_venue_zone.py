"""The venue's time zone when a create names none (issue 16): the one rule (service_layer/venue_zone.py),
its setting, and what "the same request" is to an idempotency key. With fakes: no database, no peers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from booking_service.config import ConfigError, Settings
from booking_service.domain.errors import ValidationFailed, VenueZoneConflict
from booking_service.domain.limits import BookingLimits
from booking_service.domain.validation import validate_create
from booking_service.domain.values import Money, TimeSlot, VenueType
from booking_service.domain.venue_policy import VenuePolicy
from booking_service.service_layer.availability import CheckAvailability, check_availability
from booking_service.service_layer.context import Context
from booking_service.service_layer.idempotency import fingerprint
from booking_service.service_layer.peers import Capacity, Peers, Stay
from booking_service.service_layer.policy import Policy
from booking_service.service_layer.venue_zone import venue_time_zone
from tests.helpers import create_command

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
START = NOW + timedelta(days=2)


class Reads:
    """The read side of a database where `recorded` maps a venue to its last recorded zone."""

    def __init__(self, recorded: dict[str, str], policy_zones: dict[str, str] | None = None) -> None:
        self.recorded, self.asked = recorded, 0
        self.policy_zones = policy_zones or {}

    async def venue_policy(self, venue_id: str, *, with_history: bool = False) -> VenuePolicy:
        zone = self.policy_zones.get(venue_id, "")
        return VenuePolicy(venue_id, version=1 if zone else 0, time_zone=zone)

    async def recorded_time_zone(self, venue_id: str) -> str | None:
        self.asked += 1
        return self.recorded.get(venue_id)

    async def overlapping(self, venue_id: str, slot: TimeSlot) -> list[Any]:
        return []


class Peer:
    """Inventory and pricing that note the zone each stay was asked with."""

    def __init__(self) -> None:
        self.zones: list[str] = []

    async def check(self, stay: Stay, exclude: Sequence[str] = ()) -> Capacity:
        self.zones.append(stay.time_zone)
        return Capacity(True, 10)

    async def estimate(self, stay: Stay) -> Money:
        self.zones.append(stay.time_zone)
        return Money(5000, "EUR")


def context(reads: Reads, peer: Peer | None = None, default: str = "America/Los_Angeles") -> Context:
    peer = peer or Peer()
    return Context(
        uow=lambda: pytest.fail("no unit of work needed"),
        clock=lambda: NOW,
        policy=Policy(default_venue_time_zone=default),
        peers=Peers(peer, peer, None),  # type: ignore[arg-type]
        reads=reads,  # type: ignore[arg-type]
    )


async def test_a_named_zone_is_used_as_named_without_a_read() -> None:
    reads = Reads({"venue-1": "Europe/Berlin"})
    assert await venue_time_zone("venue-1", "Asia/Tokyo", ctx=context(reads)) == "Asia/Tokyo"
    assert reads.asked == 0


async def test_no_zone_is_the_venues_recorded_zone_else_the_default() -> None:
    reads = Reads({"venue-1": "Europe/Berlin"})
    assert await venue_time_zone("venue-1", "", ctx=context(reads)) == "Europe/Berlin"
    assert await venue_time_zone("venue-2", "", ctx=context(reads)) == "America/Los_Angeles"
    assert await venue_time_zone("venue-2", "", ctx=context(reads, default="UTC")) == "UTC"


async def test_a_policys_zone_comes_first_and_another_named_zone_is_refused_naming_both() -> None:
    """Issue 17: a venue whose policy sets a zone has that zone, recorded zone or not."""
    reads = Reads({"venue-1": "Europe/Berlin"}, {"venue-1": "Asia/Tokyo"})
    assert await venue_time_zone("venue-1", "", ctx=context(reads)) == "Asia/Tokyo"
    assert await venue_time_zone("venue-1", "Asia/Tokyo", ctx=context(reads)) == "Asia/Tokyo"
    assert reads.asked == 0
    with pytest.raises(VenueZoneConflict) as refused:
        await venue_time_zone("venue-1", "Europe/Paris", ctx=context(reads))
    (violation,) = refused.value.violations
    assert violation.field == "venue.time_zone"
    assert "Europe/Paris" in violation.description
    assert "Asia/Tokyo" in violation.description


@pytest.mark.parametrize(
    ("venue", "zone"), [("venue-1", "Europe/Berlin"), ("venue-2", "America/Los_Angeles")]
)
async def test_an_availability_check_asks_the_peers_with_the_venues_zone(venue: str, zone: str) -> None:
    """It used to ask them with UTC whatever the venue's zone."""
    peer = Peer()
    query = CheckAvailability(
        venue,
        "",
        START,
        START + timedelta(hours=2),
        2,
        venue_type=VenueType.RESTAURANT,
        include_price_estimate=True,
    )
    answer = await check_availability(query, ctx=context(Reads({"venue-1": "Europe/Berlin"}), peer))
    assert answer.available
    assert peer.zones == [zone, zone]  # the inventory's check and the price estimate


def test_a_create_may_leave_the_zone_out_but_not_name_an_unknown_one() -> None:
    validate_create(create_command(START, time_zone=""), NOW, BookingLimits())
    with pytest.raises(ValidationFailed) as raised:
        validate_create(create_command(START, time_zone="Mars/Olympus_Mons"), NOW, BookingLimits())
    assert [v.field for v in raised.value.violations] == ["venue.time_zone"]


def test_the_key_remembers_the_request_as_sent_zone_or_none() -> None:
    """A replay without the zone is the same request, whatever zone the first was given; one that
    names a zone is another (IDEMPOTENCY_KEY_REUSED), even the zone the first was given."""
    without = create_command(START, time_zone="", key="k")
    assert fingerprint(without) == fingerprint(create_command(START, time_zone="", key="k"))
    assert fingerprint(without) != fingerprint(create_command(START, time_zone="UTC", key="k"))


def test_the_default_zone_is_utc_unless_set() -> None:
    assert Settings.from_env({}).default_venue_time_zone == "UTC"
    settings = Settings.from_env({"DEFAULT_VENUE_TIME_ZONE": "Europe/Lisbon"})
    assert settings.default_venue_time_zone == "Europe/Lisbon"


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "CET/../../etc/passwd", "+01:00", "europe/nowhere"])
def test_a_default_zone_that_is_no_iana_zone_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="DEFAULT_VENUE_TIME_ZONE") as raised:
        Settings.from_env({"DEFAULT_VENUE_TIME_ZONE": value})
    assert "\n" not in str(raised.value)


#: Names the tz database on a machine may hold that are not IANA zones: the host's own clock, a
#: placeholder, a build artefact, and the copies with leap seconds (right/) or without (posix/).
NOT_IANA = ("localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Paris")


@pytest.mark.parametrize("value", NOT_IANA)
def test_a_default_zone_from_the_machine_but_not_iana_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DEFAULT_VENUE_TIME_ZONE": value})
    assert str(raised.value) == (
        f"DEFAULT_VENUE_TIME_ZONE must be an IANA time zone such as Europe/Paris or UTC, not {value!r}"
    )


@pytest.mark.parametrize("value", NOT_IANA)
def test_a_create_naming_a_zone_from_the_machine_but_not_iana_is_refused(value: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_create(create_command(START, time_zone=value), NOW, BookingLimits())
    [violation] = raised.value.violations
    assert violation.field == "venue.time_zone"
    assert violation.description == f"must be an IANA time zone such as Europe/Paris, not {value!r}"


@pytest.mark.parametrize("value", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_iana_zones_are_taken_by_the_setting_and_the_request(value: str) -> None:
    assert Settings.from_env({"DEFAULT_VENUE_TIME_ZONE": value}).default_venue_time_zone == value
    validate_create(create_command(START, time_zone=value), NOW, BookingLimits())
