"""A venue's policy on its own (domain/venue_policy.py): what it sets over the settings, each
change's checks, versions and history, and the buffer settings. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking_service.config import ConfigError, Settings
from booking_service.domain.errors import PolicyVersionMismatch, ValidationFailed
from booking_service.domain.limits import BookingLimits
from booking_service.domain.values import Actor, ChangeSource, TimeSlot
from booking_service.domain.venue_policy import VenuePolicy

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
ADMIN = Actor("venue-admin", ChangeSource.API)
SETTINGS = Settings.from_env({}).booking_limits


def changed(
    policy: VenuePolicy, expected: int, paths: tuple[str, ...] = (), **values: object
) -> tuple[str, ...]:
    return policy.change(values, paths or tuple(values), expected, ADMIN, NOW, SETTINGS)  # type: ignore[arg-type]


def test_what_a_venue_leaves_out_is_the_settings_and_named_so() -> None:
    policy = VenuePolicy("v1")
    assert policy.limits(SETTINGS) is SETTINGS
    changed(policy, 0, max_party_size=8, buffer_after=timedelta(minutes=15))
    limits = policy.limits(SETTINGS)
    assert (limits.max_party_size, limits.min_party_size, limits.buffer_after) == (
        8,
        1,
        timedelta(minutes=15),
    )
    assert limits.source("max_party_size") == "policy of venue v1, version 1"
    assert limits.source("min_party_size") == "BOOKING_MIN_PARTY_SIZE"
    assert policy.fields() == ("max_party_size", "buffer_after")


def test_each_change_is_a_version_with_old_and_new_values() -> None:
    policy = VenuePolicy("v1")
    assert changed(policy, 0, max_party_size=8, time_zone="Europe/Paris") == ("max_party_size", "time_zone")
    assert changed(policy, 1, ("max_party_size",)) == ("max_party_size",)  # back to the setting
    assert changed(policy, 2, time_zone="Europe/Paris") == ()  # as it is: no version
    assert policy.version == 2
    first, second = policy.history
    assert (first.old, first.new) == (
        {"max_party_size": None, "time_zone": None},
        {"max_party_size": 8, "time_zone": "Europe/Paris"},
    )
    assert (second.version, second.old, second.new, second.actor) == (
        2,
        {"max_party_size": 8},
        {"max_party_size": None},
        ADMIN,
    )
    with pytest.raises(PolicyVersionMismatch) as stale:
        changed(policy, 1, max_party_size=6)
    assert stale.value.metadata == {"venue_id": "v1", "expected_version": "1", "current_version": "2"}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"min_party_size": 5, "max_party_size": 4}, "policy.max_party_size"),
        ({"min_party_size": 200}, "policy.min_party_size"),  # above the setting's maximum of 100
        ({"min_duration": timedelta(hours=3), "max_duration": timedelta(hours=2)}, "policy.max_duration"),
        ({"min_notice": timedelta(days=20), "max_advance": timedelta(days=10)}, "policy.max_advance"),
        ({"buffer_before": timedelta(seconds=-1)}, "policy.buffer_before"),
        ({"buffer_after": timedelta(days=1, seconds=1)}, "policy.buffer_after"),
        ({"min_notice": timedelta(days=-2)}, "policy.min_notice"),
        ({"time_zone": "localtime"}, "policy.time_zone"),
    ],
)
def test_a_change_that_cannot_hold_is_refused_naming_the_field(values: dict[str, object], field: str) -> None:
    policy = VenuePolicy("v1")
    with pytest.raises(ValidationFailed) as refused:
        changed(policy, 0, **values)
    assert field in {v.field for v in refused.value.violations}
    assert policy.version == 0


def test_buffers_widen_the_blocked_time() -> None:
    limits = BookingLimits(buffer_before=timedelta(minutes=10), buffer_after=timedelta(minutes=20))
    slot = TimeSlot(NOW, NOW + timedelta(hours=1))
    assert limits.blocked(slot) == TimeSlot(NOW - timedelta(minutes=10), NOW + timedelta(minutes=80))


def test_the_buffer_settings_default_to_zero_and_are_bounded() -> None:
    assert (SETTINGS.buffer_before, SETTINGS.buffer_after) == (timedelta(0), timedelta(0))
    limits = Settings.from_env({"BOOKING_BUFFER_AFTER_SECONDS": "900"}).booking_limits
    assert (limits.buffer_after, limits.source("buffer_after")) == (
        timedelta(minutes=15),
        "BOOKING_BUFFER_AFTER_SECONDS",
    )
    for value in ("-1", "86401", "soon"):
        with pytest.raises(ConfigError, match="BOOKING_BUFFER_BEFORE_SECONDS"):
            Settings.from_env({"BOOKING_BUFFER_BEFORE_SECONDS": value})
