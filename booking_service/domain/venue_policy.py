"""A venue's booking rules (issue 17): what the venue sets, over the BOOKING_* settings' defaults.

A stored policy holds only what the venue sets (`values`: a limit's name, one of limits.LIMITS, to
its value; `time_zone`, "" when it sets none). Every rule it leaves out is the setting's, so a
setting changed later still reaches the venues that never set that rule. `limits(defaults)` gives
the effective BookingLimits, each limit's source naming the venue's policy and its version, or the
setting (a refusal names which).

A change is judged whole (the effective limits must hold together, each value within its bounds,
the zone an IANA zone); it bumps `version` and records one history entry with the changed fields'
old and new values (None: the setting's). The version starts at 0 (nothing stored): the first
change expects 0. Errors: ValidationFailed (naming `policy.<field>`), PolicyVersionMismatch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from booking_service.domain.errors import PolicyVersionMismatch
from booking_service.domain.limits import LIMITS, MAX_BUFFER, BookingLimits, span
from booking_service.domain.validation import Violations, is_time_zone
from booking_service.domain.values import Actor

#: The fields a policy may set: the limits and the venue's time zone.
POLICY_FIELDS = (*LIMITS, "time_zone")
PARTY_SIZES = frozenset({"min_party_size", "max_party_size"})

#: What each value may be on its own, whatever the others say (the settings' own bounds): the
#: least and the most, a timedelta or a number of people.
_DAY = timedelta(days=1)
BOUNDS: Mapping[str, tuple[timedelta | int, timedelta | int]] = {
    "min_notice": (-_DAY, 365 * _DAY),
    "max_advance": (_DAY, 36_500 * _DAY),
    "min_duration": (timedelta(0), 3_660 * _DAY),
    "max_duration": (timedelta(seconds=1), 3_660 * _DAY),
    "min_party_size": (1, 1_000_000),
    "max_party_size": (1, 1_000_000),
    "buffer_before": (timedelta(0), MAX_BUFFER),
    "buffer_after": (timedelta(0), MAX_BUFFER),
}

Value = timedelta | int | str


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One version of a policy: who made it, when, and each changed field's old and new value
    (None: the setting's default)."""

    version: int
    actor: Actor
    changed_at: datetime
    changed_fields: tuple[str, ...]
    old: Mapping[str, Value | None]
    new: Mapping[str, Value | None]


def source_of(venue_id: str, version: int) -> str:
    """How a refusal names a rule the venue's policy sets."""
    return f"policy of venue {venue_id}, version {version}"


@dataclass(eq=False, slots=True)
class VenuePolicy:
    venue_id: str
    #: 0 while nothing is stored; each change adds one.
    version: int = 0
    #: The IANA zone the venue's policy sets ("" when it sets none: venue_zone.py's rule).
    time_zone: str = ""
    #: What the venue sets, by limit name: timedeltas, or people for party sizes.
    values: dict[str, timedelta | int] = field(default_factory=dict)
    update_time: datetime | None = None
    #: Oldest first (when loaded with it).
    history: list[PolicyChange] = field(default_factory=list)
    #: Changes since loading, not yet stored.
    new_history: list[PolicyChange] = field(default_factory=list)
    stored_version: int = 0

    def limits(self, defaults: BookingLimits) -> BookingLimits:
        """The limits in force at the venue: its own values over `defaults` (the settings)."""
        if not self.values:
            return defaults
        own = source_of(self.venue_id, self.version)
        limits = replace(defaults, **self.values)  # type: ignore[arg-type]
        return limits.with_sources(dict.fromkeys(self.values, own))

    def fields(self) -> tuple[str, ...]:
        """The fields the venue sets (the others are the settings')."""
        return tuple(name for name in POLICY_FIELDS if self.get(name) is not None)

    def get(self, name: str) -> Value | None:
        if name == "time_zone":
            return self.time_zone or None
        return self.values.get(name)

    def change(
        self,
        wanted: Mapping[str, Value],
        paths: Collection[str],
        expected_version: int,
        actor: Actor,
        now: datetime,
        defaults: BookingLimits,
    ) -> tuple[str, ...]:
        """Sets each field in `paths` to its value in `wanted`, or back to the setting when `wanted`
        has none; returns the fields that changed (none: the version stays). Raises
        PolicyVersionMismatch or ValidationFailed."""
        if expected_version != self.version:
            raise PolicyVersionMismatch(self.venue_id, expected_version, self.version)
        v = Violations()
        for path in paths:
            if path not in POLICY_FIELDS:
                v.add("update_mask", f"names {path!r}, not a policy field ({', '.join(POLICY_FIELDS)})")
        v.raise_if_any()
        values = {k: val for k, val in self.values.items() if k not in paths}
        values.update({k: val for k, val in wanted.items() if k in paths and k != "time_zone"})  # type: ignore[misc]
        zone = str(wanted.get("time_zone", "")) if "time_zone" in paths else self.time_zone
        check(v, values, zone, defaults)
        v.raise_if_any()
        after = VenuePolicy(self.venue_id, self.version, zone, values)
        changed = tuple(name for name in POLICY_FIELDS if self.get(name) != after.get(name))
        if not changed:
            return ()
        old = {name: self.get(name) for name in changed}
        self.values, self.time_zone = values, zone
        self.version += 1
        self.update_time = now
        entry = PolicyChange(
            self.version, actor, now, changed, old, {name: self.get(name) for name in changed}
        )
        self.history.append(entry)
        self.new_history.append(entry)
        return changed


def check(v: Violations, values: Mapping[str, timedelta | int], zone: str, defaults: BookingLimits) -> None:
    """Each value within its bounds, and the effective limits holding together (min <= max, the
    notice shorter than the advance); each refusal names `policy.<field>` and the values."""
    if zone and not is_time_zone(zone):
        v.add("policy.time_zone", f"must be an IANA time zone such as Europe/Paris, not {zone!r}")
    for name, value in values.items():
        low, high = BOUNDS[name]
        if not low <= value <= high:  # type: ignore[operator]
            v.add(f"policy.{name}", f"must be from {_shown(low)} to {_shown(high)}, not {_shown(value)}")
    if v.items:
        return
    limits = replace(defaults, **values)  # type: ignore[arg-type]
    pairs = (
        ("min_party_size", "max_party_size"),
        ("min_duration", "max_duration"),
        ("min_notice", "max_advance"),
    )
    for low_name, high_name in pairs:
        low, high = getattr(limits, low_name), getattr(limits, high_name)
        if low > high or (high_name == "max_advance" and high <= low):
            blamed = high_name if high_name in values else low_name
            v.add(
                f"policy.{blamed}",
                f"{high_name} ({_shown(high)}) must be more than {low_name} ({_shown(low)})"
                if high_name == "max_advance"
                else f"{high_name} ({_shown(high)}) must be at least {low_name} ({_shown(low)})",
            )


def _shown(value: timedelta | int) -> str:
    return span(value) if isinstance(value, timedelta) else str(value)
