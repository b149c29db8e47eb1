"""Proto3 JSON for answers, built once per message type instead of walked per message.

json_format.MessageToDict inspects every field's descriptor on every call; a page of 20 bookings
with their histories took about 1.4 ms, as long as the rest of the REST call. Here each message
type gets a table (name, converter, repeated) per field number once, and a message is written
from its ListFields() (the set fields, read by the C extension) plus, when unset fields are
printed, the defaults of the fields without presence. The output is json_format's, key order
included (tests/unit/test_json_writer.py compares the two on every message type of the API);
message types this table does not cover (floats, maps, well-known types other than Timestamp,
Duration and FieldMask) are written by json_format itself.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

Converter = Callable[[Any], Any]
Encoder = Callable[[Message], Any]

_AS_JSON_STRING = frozenset({"google.protobuf.Duration", "google.protobuf.FieldMask"})
_TIMESTAMP = "google.protobuf.Timestamp"
#: 9999-12-31T23:59:59Z, the last second a Timestamp may hold.
_LAST_SECOND = 253402300799
_INT64 = frozenset(
    {FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64}  # strings in proto3 JSON
)
_FLOAT = frozenset({FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE})


def _int64(value: int) -> str:
    return str(value + 0)  # X


def _bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _json_string(message: Any) -> Any:
    return message.ToJsonString()


_TWO_DIGITS = [f"{i:02d}" for i in range(60)]
_DAYS: dict[int, str] = {}  # "YYYY-MM-DDT" by days since the epoch (bookings share few days)


def _timestamp(stamp: Any) -> str:
    """Timestamp.ToJsonString() (RFC 3339, UTC, 0/3/6/9 fractional digits) at a fraction of its
    cost: the date part is kept per day; out-of-range values go to ToJsonString, which refuses them."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if not (0 <= seconds <= _LAST_SECOND and 0 <= nanos < 1_000_000_000):
        return str(stamp.ToJsonString())
    days, clock = divmod(seconds, 86_400)
    day = _DAYS.get(days)
    if day is None:
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        t = time.gmtime(days * 86_400)
        day = _DAYS[days] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
    hours, clock = divmod(clock, 3_600)
    minutes, second = divmod(clock, 60)
    text = day + _TWO_DIGITS[hours] + ":" + _TWO_DIGITS[minutes] + ":" + _TWO_DIGITS[second]
    if nanos == 0:
        return f"{text}Z"
    if nanos % 1_000_000 == 0:
        return f"{text}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{text}.{nanos // 1_000:06d}Z"
    return f"{text}.{nanos:09d}Z"


class JsonWriter:
    """Writes messages as json_format.MessageToDict(preserving_proto_field_name=True,
    always_print_fields_with_no_presence=unpopulated) would."""

    def __init__(self, *, unpopulated: bool) -> None:
        self._unpopulated = unpopulated
        self._encoders: dict[str, Encoder] = {}
        self._building: set[str] = set()  # types whose table is being built (a type may nest itself)

    def to_dict(self, message: Message) -> Any:
        return self._encoder(message.DESCRIPTOR)(message)

    def _encoder(self, descriptor: Any) -> Encoder:  # a Descriptor (the upb one at run time)
        encoder = self._encoders.get(descriptor.full_name)
        if encoder is None:
            self._building.add(descriptor.full_name)
            try:
                encoder = self._encoders[descriptor.full_name] = self._build(descriptor)
            finally:
                self._building.discard(descriptor.full_name)
        return encoder

    def _build(self, descriptor: Any) -> Encoder:
        if descriptor.full_name == _TIMESTAMP:
            return _timestamp
        if descriptor.full_name in _AS_JSON_STRING:
            return _json_string
        if descriptor.full_name.startswith("google.protobuf.") or not all(
            _covered(field) for field in descriptor.fields
        ):
            return self._by_json_format
        # (name, converter or None for a value written as it is, repeated) by field descriptor (the
        # objects ListFields() returns are these, which saves reading each one's number)
        table: dict[Any, tuple[str, Converter | None, bool]] = {
            field: (field.name, self._converter(field), _repeated(field)) for field in descriptor.fields
        }
        defaults = [
            (
                field.name,
                _repeated(field),
                None if _repeated(field) else _convert(self._converter(field), field.default_value),
            )
            for field in descriptor.fields
            if not field.has_presence
        ]
        unpopulated = self._unpopulated

        def encode(message: Message) -> dict[str, Any]:
            written: dict[str, Any] = {}
            for field, value in message.ListFields():
                name, convert, repeated = table[field]
                if convert is None:
                    written[name] = list(value) if repeated else value
                else:
                    written[name] = [convert(item) for item in value] if repeated else convert(value)
            if unpopulated:
                for name, repeated, default in defaults:
                    if name not in written:
                        written[name] = [] if repeated else default
            return written

        return encode

    def _converter(self, field: FieldDescriptor) -> Converter | None:
        if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.full_name == _TIMESTAMP:
                return _timestamp
            return self._nested(field.message_type)
        if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM:
            assert field.enum_type is not None
            names = {value.number: _enum_json(field, value.number) for value in field.enum_type.values}
            return lambda number: names.get(number, number)
        if field.cpp_type in _INT64:
            return _int64
        if field.type == FieldDescriptor.TYPE_BYTES:
            return _bytes
        return None  # int32 and uint32, bool, string: as they are

    def _nested(self, descriptor: Any) -> Encoder:
        """The encoder of a message field's type: built now, or looked up on first use when the type
        is being built already (it nests itself)."""
        if descriptor.full_name not in self._building:
            return self._encoder(descriptor)
        bound: list[Encoder] = []

        def encode(message: Message) -> Any:
            if not bound:
                bound.append(self._encoder(descriptor))
            return bound[0](message)

        return encode

    def _by_json_format(self, message: Message) -> Any:
        return json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=self._unpopulated
        )


def _convert(converter: Converter | None, value: Any) -> Any:
    return value if converter is None else converter(value)


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _covered(field: FieldDescriptor) -> bool:
    """Whether the table writes this field as json_format does (maps and floats are left to it)."""
    if field.cpp_type in _FLOAT:
        return False
    message_type = field.message_type
    return message_type is None or not message_type.GetOptions().map_entry


def _enum_json(field: FieldDescriptor, number: int) -> Any:
    """An enum value's name (an open proto3 enum writes a number it does not know as the number)."""
    assert field.enum_type is not None
    value = field.enum_type.values_by_number.get(number)
    return value.name if value is not None else number
