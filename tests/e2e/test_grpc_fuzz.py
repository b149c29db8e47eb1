"""A property-based fuzzer of raw gRPC request bytes, for every method of booking.v1.BookingService.

Each example sends bytes as they are (an identity serializer) to a real server on loopback: random
bytes, or a valid request of the method mutated (bits flipped, cut short, a string field's value
replaced by bytes that are not UTF-8). Whatever arrives, the answer is never UNKNOWN or INTERNAL,
every error carries an ErrorInfo and the x-request-id trailer, and afterwards the service still
answers a normal GetBooking.

Seeded: `--fuzz-seed N` (or FUZZ_SEED=N) replays a run, the seed is in the report header and in
every failure, and hypothesis prints the falsifying bytes. `--long` runs many more examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc, slots_pb2
from booking.v1 import guest_erasure_pb2 as epb
from booking.v1 import venue_policy_pb2 as vp
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.type import date_pb2
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from booking_service.bootstrap import Application
from booking_service.entrypoints.grpc.server import GrpcServer
from tests.conftest import NOW
from tests.helpers import rich_error

SERVICE = pb.DESCRIPTOR.services_by_name["BookingService"]
METHODS = [method.name for method in SERVICE.methods]
#: Examples per method: the CI run (all methods together well under 30 s), and with --long.
EXAMPLES, LONG_EXAMPLES = 200, 5000
REFUSED = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}

#: Byte sequences that are never UTF-8: a lone continuation, an overlong NUL, a surrogate, a cut
#: sequence, a code point above U+10FFFF, bytes that never occur.
NOT_UTF8 = [b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\xfe", b"\xff\xfe\xfd"]


def valid_requests(booking: pb.Booking) -> dict[str, Message]:
    """One valid request per method, about `booking` (so that mutations reach the use cases)."""
    start = NOW + timedelta(days=3, hours=9)
    create = pb.CreateBookingRequest(
        guest=pb.Guest(guest_id=booking.guest.guest_id, name="Ada Lovelace", email="ada@example.com"),
        venue=pb.Venue(
            venue_id=booking.venue.venue_id,
            venue_type=pb.VENUE_TYPE_RESTAURANT,
            name="Chez Nous",
            time_zone="Europe/Berlin",
        ),
        unit_id=booking.unit_id,
        party_size=2,
        special_requests="window seat",
        idempotency_key="fuzz-create",
    )
    create.start_time.FromDatetime(start)
    create.end_time.FromDatetime(start + timedelta(hours=2))
    update = pb.UpdateBookingRequest(
        booking_id=booking.booking_id, expected_version=booking.version, special_requests="quiet table"
    )
    update.update_mask.paths.append("special_requests")
    check = pb.CheckAvailabilityRequest(
        venue_id=booking.venue.venue_id, unit_id=booking.unit_id, party_size=2, exclude_booking_id="x"
    )
    check.start_time.CopyFrom(create.start_time)
    check.end_time.CopyFrom(create.end_time)
    filters = pb.BookingFilters(statuses=[pb.BOOKING_STATUS_PENDING])
    requests: dict[str, Message] = {
        "CreateBooking": create,
        "GetBooking": pb.GetBookingRequest(booking_id=booking.booking_id),
        "GetBookingByReference": pb.GetBookingByReferenceRequest(booking_reference=booking.booking_reference),
        "UpdateBooking": update,
        "CancelBooking": pb.CancelBookingRequest(
            booking_id=booking.booking_id, expected_version=booking.version + 5, reason="fuzz"
        ),
        "UpdateBookingStatus": pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id,
            expected_version=booking.version + 5,
            status=pb.BOOKING_STATUS_NO_SHOW,
        ),
        "ListGuestBookings": pb.ListGuestBookingsRequest(
            guest_id=booking.guest.guest_id, page_size=2, page_token="abc", filters=filters
        ),
        "ListVenueBookings": pb.ListVenueBookingsRequest(
            venue_id=booking.venue.venue_id, page_size=2, filters=filters
        ),
        "CheckAvailability": check,
        "GetVenuePolicy": vp.GetVenuePolicyRequest(venue_id=booking.venue.venue_id),
        # A stale version: a mutation that lands changes the fuzzed venue's rules only rarely.
        "UpdateVenuePolicy": vp.UpdateVenuePolicyRequest(
            venue_id=booking.venue.venue_id,
            policy=vp.VenuePolicy(max_party_size=50),
            expected_version=5,
            update_mask=FieldMask(paths=["max_party_size"]),
        ),
        "SearchAvailableSlots": slots_pb2.SearchAvailableSlotsRequest(
            venue_id=booking.venue.venue_id,
            local_date=date_pb2.Date(year=start.year, month=start.month, day=start.day),
            party_size=2,
            duration=Duration(seconds=7200),
            unit_ids=[booking.unit_id],
            slot_step=Duration(seconds=3600),
        ),
        "CreateBookingGroup": _group(create),
        "GetBookingGroup": gpb.GetBookingGroupRequest(group_id=booking.booking_id),
        "CancelBookingGroup": gpb.CancelBookingGroupRequest(
            group_id=booking.booking_id, expected_version=3, reason="fuzz", idempotency_key="fuzz-cancel"
        ),
        # Another guest than the fuzzed booking's: an erasure that lands erases nobody the test reads.
        "EraseGuestData": epb.EraseGuestDataRequest(
            guest_id="fuzz-erased-guest", idempotency_key="fuzz-erase"
        ),
        "WatchBookings": pb.WatchBookingsRequest(venue_id=booking.venue.venue_id),
    }
    assert set(requests) == set(METHODS), "a new RPC needs a valid request here"
    return requests


def _group(create: pb.CreateBookingRequest) -> pb.CreateBookingGroupRequest:
    item = gpb.BookingGroupItem(unit_id=create.unit_id, party_size=2, special_requests="window seat")
    item.start_time.CopyFrom(create.start_time)
    item.end_time.CopyFrom(create.end_time)
    return pb.CreateBookingGroupRequest(
        guest=create.guest, venue=create.venue, items=[item], idempotency_key="fuzz-group"
    )


def string_paths(message: Message, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of every non-empty string field set in `message`, nested messages included."""
    paths: list[tuple[str, ...]] = []
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_STRING and isinstance(value, str) and value:
            paths.append((*prefix, field.name))
        elif field.type == FieldDescriptor.TYPE_MESSAGE and isinstance(value, Message):
            paths.extend(string_paths(value, (*prefix, field.name)))
    return paths


def with_bad_string(request: Message, path: tuple[str, ...], bad: bytes) -> bytes:
    """`request` serialised with the string at `path` replaced by `bad` (lengths kept right: a
    placeholder of the same length is set, then swapped for the bytes)."""
    copy = type(request)()
    copy.CopyFrom(request)
    target = copy
    for name in path[:-1]:
        target = getattr(target, name)
    placeholder = "\x7f" * len(bad)
    setattr(target, path[-1], placeholder)
    number = target.DESCRIPTOR.fields_by_name[path[-1]].number
    field = bytes([number << 3 | 2, len(bad)])  # the field's tag and length (all small here)
    wire = copy.SerializeToString()
    assume(wire.count(field + placeholder.encode()) == 1)
    return wire.replace(field + placeholder.encode(), field + bad)


def flip_bits(wire: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(wire)
    for index, bit in flips:
        data[index % len(data)] ^= 1 << bit
    return bytes(data)


def request_bytes(valid: Message) -> st.SearchStrategy[bytes]:
    wire = valid.SerializeToString()
    bad_utf8 = st.builds(
        lambda before, bad, after: before + bad + after,
        st.binary(max_size=4).filter(lambda b: all(c < 0x80 for c in b)),
        st.sampled_from(NOT_UTF8),
        st.binary(max_size=4),
    )
    return st.one_of(
        st.binary(max_size=300),
        st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), min_size=1, max_size=8).map(
            lambda flips: flip_bits(wire, flips)
        ),
        st.integers(0, max(len(wire) - 1, 0)).map(lambda end: wire[:end]),
        st.builds(
            lambda path, bad: with_bad_string(valid, path, bad),
            st.sampled_from(string_paths(valid)),
            bad_utf8,
        ),
        st.builds(lambda cut, tail: wire[:cut] + tail, st.integers(0, len(wire)), st.binary(max_size=40)),
    )


def check_answer(call: Callable[..., object], body: bytes, fuzz_seed: int) -> None:
    """One raw call; any answer but UNKNOWN/INTERNAL, errors rich and with the request id back. A
    stream (WatchBookings) that opens is left after its first message: it would never end."""
    try:
        answer = call(body, metadata=(("x-request-id", "fuzz"),), timeout=20)
        if isinstance(answer, grpc.Future):  # a stream: its first message, or its error
            next(answer)  # type: ignore[call-overload]
            answer.cancel()
        return
    except grpc.RpcError as raised:
        error = raised
    assert isinstance(error, grpc.Call)
    note = f"fuzz seed {fuzz_seed}: {error.code()} {error.details()!r} for {body!r}"
    assert error.code() not in REFUSED, note
    rich_error(error)  # type: ignore[arg-type]  # asserts the ErrorInfo
    assert ("x-request-id", "fuzz") in tuple(error.trailing_metadata() or ()), note


@pytest.mark.parametrize("method", METHODS)
async def test_no_request_bytes_make_an_unknown_or_internal_answer(
    method: str,
    app: Application,
    new_booking: Callable[..., pb.CreateBookingRequest],
    request: pytest.FixtureRequest,
) -> None:
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = booking_pb2_grpc.BookingServiceStub(channel)  # type: ignore[misc]
            booking = await stub.CreateBooking(new_booking())
            await fuzzed(target, method, valid_requests(booking)[method], request.config)
            again = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id), timeout=10)
            assert again.booking_id == booking.booking_id
    finally:
        await server.stop(0)


async def fuzzed(target: str, method: str, valid: Message, config: pytest.Config) -> None:
    fuzz_seed: int = config.fuzz_seed  # type: ignore[attr-defined]
    examples = LONG_EXAMPLES if config.getoption("--long") else EXAMPLES

    def fuzz() -> None:
        with grpc.insecure_channel(target) as channel:
            streams = SERVICE.methods_by_name[method].server_streaming
            call = (channel.unary_stream if streams else channel.unary_unary)(
                f"/{SERVICE.full_name}/{method}", request_serializer=None, response_deserializer=None
            )

            @seed(fuzz_seed)
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(request_bytes(valid))
            def answers(body: bytes) -> None:
                check_answer(call, body, fuzz_seed)

            try:
                answers()
            except BaseException as failure:
                failure.add_note(f"fuzz seed: {fuzz_seed} (replay with --fuzz-seed {fuzz_seed})")
                raise

    await asyncio.to_thread(fuzz)  # the server answers on this loop meanwhile
