"""The proto3 JSON strings protobuf's parser reads too loosely, held to their written forms.

protobuf's `json_format` reads an integer given as a string with Python's `int()`, which also takes
`"1_0"` (ten), Arabic-Indic and full-width digits and surrounding blanks; and a timestamp's offset
without a range check (`+99:99` moved the time by four days), with any Unicode digit. Before it sees
a body, each such string is checked against its one form here, walking the value beside the
request's descriptor:

- integers (int32, int64, uint32, uint64 and their kin) as strings: ASCII digits, an optional `-`;
- enums as strings: one of the enum's names, or its number written as above (a full-width one was read);
- `google.protobuf.Timestamp`: RFC 3339 with ASCII digits, `T` and `Z` in upper case (as protobuf
  writes them), 1 to 9 fractional digits, an offset within +-23:59;
- `google.protobuf.FieldMask`: each path's names in lowerCamelCase (the JSON form) or as the proto
  field names (`party_size`, `guest.email`, rewritten to lowerCamelCase for the parser; grpc-gateway
  takes both too); a name in neither form (`party__size`, `GUEST`) is refused as it was written;
- one field under both its names (`party_size` and `partySize`): refused, as a query parameter given
  twice is, instead of the parser keeping the last.

The path and query parameters are held to the same forms (binding.py). Anything else (numbers as
JSON numbers, unknown fields, wrong types) is left to the parser.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", re.ASCII)
_CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*", re.ASCII)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
    re.ASCII,
)
_INTEGERS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


class LooseScalar(ValueError):
    """A string field value not in its one written form; the message names the field, not the value."""


def hold_to_form(value: dict[str, Any], message: Descriptor, path: str = "") -> None:
    """Checks (and, for field masks, rewrites in place) the strings of a parsed JSON object meant
    for `message`; raises LooseScalar naming the first one out of form. The object's nesting is
    bounded before this runs (marshal.MAX_JSON_DEPTH)."""
    by_name = {f.name: f for f in message.fields} | {f.json_name: f for f in message.fields}
    given: dict[str, str] = {}
    for key, item in value.items():
        field = by_name.get(key)
        if field is None or (field.message_type is not None and field.message_type.GetOptions().map_entry):
            continue  # unknown: the parser refuses it; no request has a map
        where = f"{path}{field.name}"
        if field.name in given:
            raise LooseScalar(f"{where} is given twice (as {given[field.name]} and {key})")
        given[field.name] = key
        if field.is_repeated and isinstance(item, list):
            for index, one in enumerate(item):
                item[index] = _held(one, field, where)
        else:
            value[key] = _held(item, field, where)


def _held(one: Any, field: FieldDescriptor, where: str) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type is not None
        kind = field.message_type.full_name
        if isinstance(one, str) and kind == "google.protobuf.Timestamp" and not _TIMESTAMP.fullmatch(one):
            raise LooseScalar(f"{where} is not an RFC 3339 time with an offset (2027-05-02T14:00:00Z)")
        if isinstance(one, str) and kind == "google.protobuf.FieldMask":
            return ",".join(_camel(path, where) for path in one.split(",")) if one else one
        if isinstance(one, dict):
            hold_to_form(one, field.message_type, f"{where}.")
        return one
    if field.type in _INTEGERS and isinstance(one, str) and not _INTEGER.fullmatch(one):
        raise LooseScalar(f"{where} is not an integer")
    if field.type == FieldDescriptor.TYPE_ENUM and isinstance(one, str):
        assert field.enum_type is not None
        if one not in field.enum_type.values_by_name and not _INTEGER.fullmatch(one):
            raise LooseScalar(f"{where} is not one of its enum's names")
    return one


def _camel(path: str, where: str) -> str:
    """`guest.guest_id` -> `guest.guestId`; a path already in lowerCamelCase stays as it is; a name in
    neither form is refused."""
    names = path.strip().split(".")
    for name in names:
        if not (_SNAKE.fullmatch(name) or _CAMEL.fullmatch(name)):
            raise LooseScalar(f"{where} has a path that is no field path (write party_size or partySize)")
    return ".".join(
        name.split("_")[0] + "".join(word[:1].upper() + word[1:] for word in name.split("_")[1:])
        for name in names
    )
