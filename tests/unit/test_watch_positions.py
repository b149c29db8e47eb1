"""Watch positions (domain/watch.py) and how a streamed message is written as a server-sent event."""

from __future__ import annotations

import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.domain.errors import ValidationFailed
from booking_service.domain.watch import Position, WatchScope
from booking_service.entrypoints.rest import sse


def test_a_position_reads_back_what_it_writes_and_orders_by_transaction_then_row() -> None:
    position = Position(1187, 23)
    assert Position.parse(str(position)) == position
    assert Position(5, 900) < Position(6, 1) < Position(6, 2)  # a later transaction, whatever its ids


@pytest.mark.parametrize("text", ["", "12", "a.b", "1.2.3", " 1.2", "-1.2", f"{1 << 63}.0", "1" * 20 + ".0"])
def test_anything_else_is_not_a_position(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Position.parse(text)
    assert [v.field for v in refused.value.violations] == ["start_position"]


def test_a_watch_names_exactly_one_venue_or_guest() -> None:
    assert WatchScope.of("v", "").matches("v", "g")
    assert not WatchScope.of("", "g").matches("v", "h")
    for venue, guest in (("", ""), ("v", "g")):
        with pytest.raises(ValidationFailed):
            WatchScope.of(venue, guest)


def test_an_event_is_json_data_with_its_position_as_id_and_a_heartbeat_a_comment() -> None:
    message = pb.WatchBookingsResponse(
        position="7.3", event=pb.BookingEvent(event_id="e", type="booking.created")
    )
    lines = sse.event(message).decode().split("\n")
    assert lines[0].startswith('data: {"position":"7.3","event":{"event_id":"e","type":"booking.created"')
    assert lines[1:] == ["id: 7.3", "", ""]
    heartbeat = pb.WatchBookingsResponse(position="9.0", heartbeat=True)
    assert sse.event(heartbeat) == b": keep-alive\nid: 9.0\n\n"


def test_last_event_id_resumes_over_the_querys_start() -> None:
    """An EventSource reconnects to the same URL with the id it saw last: that id wins."""
    request = pb.WatchBookingsRequest(venue_id="v")
    sse.resume_from(request, " 7.3 ")
    assert request.start_position == "7.3"
    sse.resume_from(request, "9.9")
    assert request.start_position == "9.9"
    sse.resume_from(request, None)
    assert request.start_position == "9.9"
