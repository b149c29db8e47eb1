"""SearchAvailableSlots messages ↔ the slot search's query and answer (service_layer/slot_search.py).

As in mapping.py, what cannot be read at all (a malformed timestamp, date or duration) travels in
the query's `unreadable`, so that every violated field is reported at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from booking.v1 import slots_pb2 as spb
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from booking_service.adapters.booking_proto import since_epoch
from booking_service.domain.slots import SlotReason
from booking_service.domain.validation import Violations
from booking_service.service_layer.slot_search import SearchSlots, SlotAnswer, SlotSearch

_REASON = {
    SlotReason.IN_THE_PAST: spb.SLOT_UNAVAILABLE_REASON_IN_THE_PAST,
    SlotReason.OUTSIDE_VENUE_RULES: spb.SLOT_UNAVAILABLE_REASON_OUTSIDE_VENUE_RULES,
    SlotReason.BOOKED: spb.SLOT_UNAVAILABLE_REASON_BOOKED,
    SlotReason.SOLD_OUT: spb.SLOT_UNAVAILABLE_REASON_SOLD_OUT,
}


def search_query(request: spb.SearchAvailableSlotsRequest) -> SearchSlots:
    v = Violations()
    has_range = request.HasField("time_range")
    return SearchSlots(
        venue_id=request.venue_id,
        party_size=request.party_size,
        duration=_duration(v, request, "duration"),
        local_date=_date(v, request),
        range_start=_time(v, request.time_range, "start_time") if has_range else None,
        range_end=_time(v, request.time_range, "end_time") if has_range else None,
        step=_duration(v, request, "slot_step"),
        unit_ids=tuple(request.unit_ids),
        has_range=has_range,
        unreadable=tuple(v.items),  # last: the arguments above have added theirs
    )


def _duration(v: Violations, message: spb.SearchAvailableSlotsRequest, name: str) -> timedelta | None:
    if not message.HasField(name):
        return None
    value: Duration = getattr(message, name)
    if value.seconds * value.nanos < 0 or abs(value.seconds) > 315_576_000_000 or abs(value.nanos) >= 10**9:
        v.add(name, "is not a valid duration")
        return None
    return timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)


def _date(v: Violations, request: spb.SearchAvailableSlotsRequest) -> date | None:
    if not request.HasField("local_date"):
        return None
    value = request.local_date
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        v.add("local_date", "is not a valid calendar date (year, month and day are all required)")
        return None


def _time(v: Violations, window: spb.SlotTimeRange, name: str) -> datetime | None:
    if not window.HasField(name):
        return None
    value: Timestamp = getattr(window, name)
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        v.add(f"time_range.{name}", "is not a valid timestamp")
        return None


def search_message(result: SlotSearch) -> spb.SearchAvailableSlotsResponse:
    """The answer as its message, each slot added in place and its times set as seconds and nanos
    (booking_proto's date arithmetic): a day's 96 slots built as keyword arguments, each time a
    Timestamp copied in, cost twice the CPU."""
    response = spb.SearchAvailableSlotsResponse(time_zone=result.time_zone)
    add = response.slots.add
    for answer in result.slots:
        _fill(add(), answer)
    return response


def _fill(message: spb.AvailabilitySlot, answer: SlotAnswer) -> None:
    candidate = answer.candidate
    start, end = message.start_time, message.end_time
    start.seconds, start.nanos = since_epoch(candidate.start)
    end.seconds, end.nanos = since_epoch(candidate.end)
    message.local_start_time = candidate.local_start.isoformat()
    if answer.reasons:
        message.status = spb.SLOT_STATUS_UNAVAILABLE
        message.reasons.extend([_REASON[r] for r in answer.reasons])
    else:
        message.status = spb.SLOT_STATUS_AVAILABLE
    if answer.free_unit_ids:
        message.free_unit_ids.extend(answer.free_unit_ids)
    if answer.rule_violations:
        message.rule_violations.extend(
            [spb.SlotRuleViolation(field=p.field, description=p.description) for p in answer.rule_violations]
        )
    if answer.remaining_capacity is not None:
        message.remaining_capacity = answer.remaining_capacity
