"""Why a unit cannot be had over a slot: the words of a UnitUnavailable (and of CheckAvailability's
reason), naming the booking in the way by its times and, when only turnover buffers make them
meet, each buffer that does with its value and its source (the venue's policy and version, or the
BOOKING_BUFFER_* setting), as README "Booking rules per venue" promises of every refusal. Pure.

A booking blocks its unit over [start - buffer_before, end + buffer_after): the holder's buffers
are those frozen on it (none for a booking made before rules were frozen), the new booking's those
of its rules (`limits`). The booking in the way is named by its times only, never its id or guest
(whoever is refused may not have made it).
"""

from __future__ import annotations

from datetime import timedelta

from booking_service.domain.errors import UnitUnavailable
from booking_service.domain.limits import BookingLimits, span
from booking_service.domain.values import TimeSlot


def _when(slot: TimeSlot) -> str:
    return f"{slot.start.isoformat()} to {slot.end.isoformat()}"


def _buffer(name: str, limits: BookingLimits | None, whose: str) -> tuple[str, str] | None:
    """`name` of `limits` as a refusal words it (and as metadata), or None when it is zero."""
    value = getattr(limits, name) if limits is not None else timedelta(0)
    if limits is None or not value:
        return None
    words = f"{whose} {name} of {span(value)} ({limits.source(name)})"
    return words, f"{int(value.total_seconds())}s ({limits.source(name)})"


def why_blocked(
    slot: TimeSlot, limits: BookingLimits, held: TimeSlot, held_rules: BookingLimits | None
) -> str:
    """Why a booking over `held` (with its frozen `held_rules`) keeps a new one over `slot` (under
    `limits`) off the unit: the times overlap, or the buffers that make them meet."""
    if held.overlaps(slot):
        return f"it is booked from {_when(held)}, overlapping {_when(slot)}"
    _, parts = _buffers(slot, limits, held, held_rules)
    before = held.end <= slot.start
    gap = slot.start - held.end if before else held.start - slot.end
    side = "ends" if before else "starts"
    edge = "before" if before else "after"
    return (
        f"it is booked from {_when(held)}, which {side} {span(gap)} {edge} {_when(slot)}, and the "
        f"turnover buffers keep more than that between them: {' and '.join(parts)}"
    )


def _buffers(
    slot: TimeSlot, limits: BookingLimits, held: TimeSlot, held_rules: BookingLimits | None
) -> tuple[dict[str, str], list[str]]:
    """The buffers that lie between `held` and `slot` when they do not overlap: metadata, words."""
    if held.end <= slot.start:
        pairs = (("buffer_after", held_rules, "that booking's"), ("buffer_before", limits, "this booking's"))
    else:
        pairs = (("buffer_before", held_rules, "that booking's"), ("buffer_after", limits, "this booking's"))
    meta: dict[str, str] = {}
    words: list[str] = []
    for name, rules, whose in pairs:
        said = _buffer(name, rules, whose)
        if said is not None:
            words.append(said[0])
            meta[("held_" if rules is held_rules else "") + name] = said[1]
    return meta, words


def unit_held(
    venue_id: str,
    unit_id: str,
    slot: TimeSlot,
    limits: BookingLimits,
    held: TimeSlot,
    held_rules: BookingLimits | None,
) -> UnitUnavailable:
    """The refusal of a unit over `slot` because a booking over `held` blocks it."""
    metadata = {
        "venue_id": venue_id,
        "unit_id": unit_id,
        "held_start_time": held.start.isoformat(),
        "held_end_time": held.end.isoformat(),
    }
    if not held.overlaps(slot):
        metadata.update(_buffers(slot, limits, held, held_rules)[0])
    return UnitUnavailable(
        f"Unit {unit_id} of venue {venue_id} is not free for {_when(slot)}: "
        f"{why_blocked(slot, limits, held, held_rules)}.",
        metadata,
    )


def unit_taken_at_write(
    venue_id: str, unit_id: str, slot: TimeSlot, limits: BookingLimits | None
) -> UnitUnavailable:
    """The refusal when the database's exclusion constraint found the booking in the way (it does
    not say which): names the time the new booking blocks, and its buffers with their sources."""
    blocked = limits.blocked(slot) if limits is not None else slot
    metadata = {"venue_id": venue_id, "unit_id": unit_id}
    words: list[str] = []
    for name in ("buffer_before", "buffer_after"):
        said = _buffer(name, limits, "its")
        if said is not None:
            words.append(said[0])
            metadata[name] = said[1]
    with_buffers = f" (with {' and '.join(words)})" if words else ""
    return UnitUnavailable(
        f"Unit {unit_id} of venue {venue_id} is not free for {_when(slot)}: the time it would block, "
        f"{_when(blocked)}{with_buffers}, meets the time another active booking blocks with its own "
        "turnover buffers.",
        metadata,
    )
