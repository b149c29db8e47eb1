"""The REST answers' JSON writer writes exactly what json_format writes (key order included), for
every message type of the API and its events, filled at random: set and unset fields, defaults,
enum numbers no name stands for, large and negative int64s, timestamps with 0, 3, 6 and 9
fractional digits and at the ends of their range, unicode, nested and repeated messages."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from booking.v1 import booking_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from booking_service.entrypoints.rest.json_writer import JsonWriter
from booking_service.entrypoints.rest.marshal import JSON

TYPES = sorted(
    {
        descriptor.full_name: descriptor
        for module in (booking_pb2,)
        for descriptor in module.DESCRIPTOR.message_types_by_name.values()
    }.items()
)
STRINGS = ["", "a", "Zoë ☕ 東京", 'quote " and \\ and \n', "x" * 300]
INT64S = [0, 1, -1, 2**53 + 1, 2**63 - 1, -(2**63)]
SECONDS = [0, 1, 1_800_000_000, 253402300799]
NANOS = [0, 5_000_000, 120_000, 7, 999_999_999]


def fill(message: Message, rng: random.Random, depth: int = 0) -> None:
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.3:
            continue  # left unset
        if field.is_repeated:
            for _ in range(rng.randint(0, 3)):
                if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                    if depth < 3:
                        fill(getattr(message, field.name).add(), rng, depth + 1)
                else:
                    getattr(message, field.name).append(value(field, rng))
        elif field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            if depth < 3:
                nested = getattr(message, field.name)
                if field.message_type.full_name == "google.protobuf.Timestamp":
                    nested.seconds, nested.nanos = rng.choice(SECONDS), rng.choice(NANOS)
                elif field.message_type.full_name == "google.protobuf.FieldMask":
                    nested.paths.extend(rng.sample(["start_time", "unit_id", "guest.email"], 2))
                else:
                    fill(nested, rng, depth + 1)
                    nested.SetInParent()
        else:
            setattr(message, field.name, value(field, rng))


def value(field: FieldDescriptor, rng: random.Random) -> Any:
    kind = field.cpp_type
    if kind == FieldDescriptor.CPPTYPE_STRING:
        return (
            rng.choice(STRINGS).encode() if field.type == FieldDescriptor.TYPE_BYTES else rng.choice(STRINGS)
        )
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return rng.random() < 0.5
    if kind in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
        return abs(rng.choice(INT64S)) if kind == FieldDescriptor.CPPTYPE_UINT64 else rng.choice(INT64S)
    if kind == FieldDescriptor.CPPTYPE_ENUM:
        return rng.choice([v.number for v in field.enum_type.values] + [99])  # 99: no name
    return rng.choice([0, 1, -5, 2**31 - 1])


@pytest.mark.parametrize("unpopulated", [True, False])
@pytest.mark.parametrize(("name", "descriptor"), TYPES, ids=[name for name, _ in TYPES])
def test_every_message_type_is_written_as_json_format_writes_it(
    name: str, descriptor: Any, unpopulated: bool
) -> None:
    writer = JsonWriter(unpopulated=unpopulated)
    rng = random.Random(name)
    for _ in range(40):
        message = descriptor._concrete_class()
        fill(message, rng)
        expected = json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=unpopulated
        )
        assert json.dumps(writer.to_dict(message)) == json.dumps(expected)
        compact = json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        assert JSON.encode(message, unpopulated=unpopulated) == compact  # the bytes REST sends


def test_the_writer_covers_the_booking_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables, not the fallback, write bookings (a regression to json_format would pass the
    comparison above and lose the speed)."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("json_format wrote part of a booking")

    monkeypatch.setattr(json_format, "MessageToDict", refuse)
    booking = booking_pb2.Booking(booking_id="b-1", version=7)
    booking.start_time.seconds = 1_800_000_000
    booking.history.add(version=1).change_time.nanos = 5_000_000
    written = JsonWriter(unpopulated=True).to_dict(booking)
    assert (written["start_time"], written["version"]) == ("2027-01-15T08:00:00Z", "7")
    assert written["history"][0]["change_time"] == "1970-01-01T00:00:00.005Z"


def test_a_type_that_nests_itself_is_written_too() -> None:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    file = descriptor_pb2.FileDescriptorProto(name="tree_test.proto", package="tree", syntax="proto3")
    node = file.message_type.add(name="Node")
    node.field.add(name="name", number=1, type=9, label=1)  # string
    node.field.add(name="children", number=2, type=11, label=3, type_name=".tree.Node")
    node.field.add(name="parent", number=3, type=11, label=1, type_name=".tree.Node")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    Node = message_factory.GetMessageClass(pool.FindMessageTypeByName("tree.Node"))
    tree = Node(name="root", children=[Node(name="a", children=[Node(name="a1")]), Node(name="b")])
    tree.parent.name = "above"
    for unpopulated in (True, False):
        expected = json_format.MessageToDict(
            tree, preserving_proto_field_name=True, always_print_fields_with_no_presence=unpopulated
        )
        assert json.dumps(JsonWriter(unpopulated=unpopulated).to_dict(tree)) == json.dumps(expected)
