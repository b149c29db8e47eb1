"""VenuePolicy messages ↔ the domain's venue policy (protos/booking/v1/venue_policy.proto)."""

from __future__ import annotations

from datetime import timedelta

from booking.v1 import venue_policy_pb2 as vp
from google.protobuf.duration_pb2 import Duration

from booking_service.domain.commands import UpdateVenuePolicy
from booking_service.domain.limits import BookingLimits
from booking_service.domain.validation import Violations
from booking_service.domain.values import Actor
from booking_service.domain.venue_policy import PARTY_SIZES, POLICY_FIELDS, Value, VenuePolicy

#: google.protobuf.Duration's own range (about 10000 years); the wire carries any int64.
MAX_DURATION_SECONDS = 315_576_000_000
DURATIONS = ("min_notice", "max_advance", "min_duration", "max_duration", "buffer_before", "buffer_after")


def update_command(request: vp.UpdateVenuePolicyRequest, actor: Actor, caller: str = "") -> UpdateVenuePolicy:
    """The change a request asks for: with an update_mask, its paths (`policy.` prefix allowed);
    without, the fields given. A duration that is not whole seconds is refused by name."""
    policy, v = request.policy, Violations()
    values: dict[str, Value] = {}
    for name in DURATIONS:
        if policy.HasField(name):
            duration: Duration = getattr(policy, name)
            if duration.nanos:
                v.add(f"policy.{name}", "must be whole seconds")
            elif abs(duration.seconds) > MAX_DURATION_SECONDS:
                v.add(f"policy.{name}", "must be a duration of at most 10000 years either way")
            else:
                values[name] = timedelta(seconds=duration.seconds)
    for name in sorted(PARTY_SIZES):
        if policy.HasField(name):
            values[name] = getattr(policy, name)
    if policy.time_zone:
        values["time_zone"] = policy.time_zone
    if request.HasField("update_mask") and request.update_mask.paths:
        paths = tuple(dict.fromkeys(path.removeprefix("policy.") for path in request.update_mask.paths))
    else:
        paths = tuple(name for name in POLICY_FIELDS if name in values)
    if policy.venue_id and request.venue_id and policy.venue_id != request.venue_id:
        v.add("policy.venue_id", f"must be left out or be the request's venue_id ({request.venue_id!r})")
    return UpdateVenuePolicy(
        actor,
        venue_id=request.venue_id or policy.venue_id,
        expected_version=request.expected_version,
        values=values,
        paths=paths,
        unreadable=tuple(v.items),
        caller=caller,
    )


def policy_message(policy: VenuePolicy, defaults: BookingLimits) -> vp.VenuePolicy:
    """Every rule in force at the venue (its own over `defaults`), with the policy's history."""
    limits = policy.limits(defaults)
    message = vp.VenuePolicy(
        venue_id=policy.venue_id,
        time_zone=policy.time_zone,
        min_party_size=limits.min_party_size,
        max_party_size=limits.max_party_size,
        version=policy.version,
        venue_fields=list(policy.fields()),
    )
    for name in DURATIONS:
        getattr(message, name).FromTimedelta(getattr(limits, name))
    if policy.update_time is not None:
        message.update_time.FromDatetime(policy.update_time)
    for change in policy.history:
        entry = message.history.add(
            version=change.version, actor=change.actor.actor_id, changed_fields=list(change.changed_fields)
        )
        entry.change_time.FromDatetime(change.changed_at)
        entry.old_values.update({k: _text(val) for k, val in change.old.items() if val is not None})
        entry.new_values.update({k: _text(val) for k, val in change.new.items() if val is not None})
    return message


def _text(value: Value) -> str:
    """A value as the history shows it: `3600s` for a duration (as JSON writes Durations)."""
    return f"{int(value.total_seconds())}s" if isinstance(value, timedelta) else str(value)
