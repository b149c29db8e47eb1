"""Listing a guest's or a venue's bookings: order, pages, tokens and filters (AIP-158)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from google.type import date_pb2

from tests.conftest import NOW
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]


async def book(stub, new_booking: Make, start: datetime, **fields: object) -> pb.Booking:
    return await stub.CreateBooking(
        new_booking(start_time=start, end_time=start + timedelta(hours=1), unit_id="", **fields)
    )


async def all_pages(stub, request: pb.ListVenueBookingsRequest) -> list[list[str]]:
    pages = []
    while True:
        response = await stub.ListVenueBookings(request)
        pages.append([b.booking_id for b in response.bookings])
        if not response.next_page_token:
            return pages
        request.page_token = response.next_page_token


async def test_pages_follow_start_time_then_id_and_end_with_an_empty_token(stub, new_booking: Make) -> None:
    starts = [NOW + timedelta(days=1, hours=h % 4) for h in range(7)]  # ties on start time
    made = [await book(stub, new_booking, start) for start in starts]
    expected = [b.booking_id for b in sorted(made, key=lambda b: (b.start_time.ToDatetime(), b.booking_id))]
    venue = made[0].venue.venue_id
    pages = await all_pages(stub, pb.ListVenueBookingsRequest(venue_id=venue, page_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == expected


async def test_a_page_stays_stable_when_bookings_are_added_before_it(stub, new_booking: Make) -> None:
    made = [await book(stub, new_booking, NOW + timedelta(days=2, hours=h)) for h in range(4)]
    venue = made[0].venue.venue_id
    first = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, page_size=2))
    await book(stub, new_booking, NOW + timedelta(days=1))  # sorts before the first page
    second = await stub.ListVenueBookings(
        pb.ListVenueBookingsRequest(venue_id=venue, page_size=2, page_token=first.next_page_token)
    )
    assert [b.booking_id for b in second.bookings] == [b.booking_id for b in made[2:]]


async def test_a_guest_sees_only_their_bookings(stub, new_booking: Make) -> None:
    mine = await book(stub, new_booking, NOW + timedelta(days=1))
    other = new_booking(
        start_time=NOW + timedelta(days=1), end_time=NOW + timedelta(days=1, hours=1), unit_id=""
    )
    other.guest.guest_id = "somebody-else"
    await stub.CreateBooking(other)
    listed = await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=mine.guest.guest_id))
    assert [b.booking_id for b in listed.bookings] == [mine.booking_id]
    assert listed.next_page_token == ""


async def test_filters_on_status_and_time_range(stub, new_booking: Make) -> None:
    morning, noon, evening = (NOW + timedelta(days=1, hours=h) for h in (0, 3, 9))
    a = await book(stub, new_booking, morning)
    b = await book(stub, new_booking, noon)
    c = await book(stub, new_booking, evening)
    await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=b.booking_id, expected_version=1, status=pb.BOOKING_STATUS_CONFIRMED
        )
    )
    venue = a.venue.venue_id

    confirmed = await stub.ListVenueBookings(
        pb.ListVenueBookingsRequest(
            venue_id=venue, filters=pb.BookingFilters(statuses=[pb.BOOKING_STATUS_CONFIRMED])
        )
    )
    assert [x.booking_id for x in confirmed.bookings] == [b.booking_id]

    window = pb.TimeRange()
    window.start_time.FromDatetime(morning + timedelta(minutes=30))  # overlaps a (until +60 min)
    window.end_time.FromDatetime(evening)  # c starts at the (exclusive) end
    overlapping = await stub.ListVenueBookings(
        pb.ListVenueBookingsRequest(venue_id=venue, filters=pb.BookingFilters(time_range=window))
    )
    assert [x.booking_id for x in overlapping.bookings] == [a.booking_id, b.booking_id]
    assert c.booking_id not in [x.booking_id for x in overlapping.bookings]


@pytest.mark.parametrize(
    ("time_zone", "day", "inside", "outside"),
    [
        # Berlin, spring forward (23-hour day): 00:00 CET is 23:00 UTC the day before.
        (
            "Europe/Berlin",
            (2030, 3, 31),
            ["2030-03-30T23:00", "2030-03-31T21:59"],
            ["2030-03-30T22:59", "2030-03-31T22:00"],
        ),
        # Berlin, fall back (25-hour day): 00:00 CEST is 22:00 UTC the day before; the day ends 23:00 UTC.
        (
            "Europe/Berlin",
            (2030, 10, 27),
            ["2030-10-26T22:00", "2030-10-27T22:59"],
            ["2030-10-26T21:59", "2030-10-27T23:00"],
        ),
        # New York, fall back: the day runs from 04:00 UTC to 05:00 UTC the next day.
        (
            "America/New_York",
            (2030, 11, 3),
            ["2030-11-03T04:00", "2030-11-04T04:59"],
            ["2030-11-03T03:59", "2030-11-04T05:00"],
        ),
    ],
)
async def test_a_venue_day_is_its_local_day(
    stub, new_booking: Make, time_zone: str, day: tuple[int, int, int], inside: list[str], outside: list[str]
) -> None:
    made: dict[str, pb.Booking] = {}
    for stamp in inside + outside:
        request = new_booking(
            start_time=datetime.fromisoformat(stamp).replace(tzinfo=UTC),
            end_time=datetime.fromisoformat(stamp).replace(tzinfo=UTC) + timedelta(minutes=30),
            unit_id="",
        )
        request.venue.time_zone = time_zone
        made[stamp] = await stub.CreateBooking(request)
    venue = made[inside[0]].venue.venue_id
    listed = await stub.ListVenueBookings(
        pb.ListVenueBookingsRequest(
            venue_id=venue,
            filters=pb.BookingFilters(local_date=date_pb2.Date(year=day[0], month=day[1], day=day[2])),
        )
    )
    assert [b.booking_id for b in listed.bookings] == [made[s].booking_id for s in inside]


async def test_page_size_defaults_and_limits(stub, new_booking: Make) -> None:
    first = await book(stub, new_booking, NOW + timedelta(days=1))
    for size in (0, 5000):
        listed = await stub.ListVenueBookings(
            pb.ListVenueBookingsRequest(venue_id=first.venue.venue_id, page_size=size)
        )
        assert len(listed.bookings) == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=first.venue.venue_id, page_size=-1))
    assert list(rich_error(raised.value).violations) == ["page_size"]


def tampered(token: str) -> str:
    """The token with its signature's last bytes changed (four characters: whole bytes, whatever
    padding bits the final character carries)."""
    return token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")


async def test_a_token_only_works_with_its_filters(stub, new_booking: Make) -> None:
    made = [await book(stub, new_booking, NOW + timedelta(days=1, hours=h)) for h in range(2)]
    venue = made[0].venue.venue_id
    first = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, page_size=1))
    for request in (
        pb.ListVenueBookingsRequest(
            venue_id=venue,
            page_size=1,
            page_token=first.next_page_token,
            filters=pb.BookingFilters(statuses=[pb.BOOKING_STATUS_PENDING]),
        ),
        pb.ListVenueBookingsRequest(venue_id="another-venue", page_token=first.next_page_token),
        pb.ListVenueBookingsRequest(venue_id=venue, page_token=tampered(first.next_page_token)),
        pb.ListVenueBookingsRequest(venue_id=venue, page_token="MTA"),  # base64 of "10"
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListVenueBookings(request)
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")


async def test_bad_filters_are_invalid_arguments(stub) -> None:
    window = pb.TimeRange()
    window.start_time.FromDatetime(NOW + timedelta(days=2))
    window.end_time.FromDatetime(NOW + timedelta(days=1))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListGuestBookings(
            pb.ListGuestBookingsRequest(
                guest_id="g",
                filters=pb.BookingFilters(
                    time_range=window, statuses=[77], local_date=date_pb2.Date(year=2030)
                ),
            )
        )
    assert set(rich_error(raised.value).violations) == {
        "filters.time_range.end_time",
        "filters.statuses",
        "filters.local_date",
    }
