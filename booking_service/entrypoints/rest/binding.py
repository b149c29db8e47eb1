"""Building an RPC's request message from an HTTP request, as grpc-gateway does.

- `body: "*"`: the body is the whole request; no query parameters.
- `body: "field"`: the body is that field; the remaining fields come from query parameters.
- no body: every field not in the path comes from query parameters (`filters.statuses=...`,
  repeated by repeating the parameter; names as in the proto or in lowerCamelCase).
- path variables are set last and win.
- `Idempotency-Key` stands for `idempotency_key` and `If-Match` for `expected_version`, when the
  request has those fields; given both ways, they must agree. If-Match is one strong ETag
  (etags.py), exactly as written: `*`, weak validators and other spellings are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from booking_service.domain.errors import FieldViolation
from booking_service.entrypoints.rest import etags
from booking_service.entrypoints.rest.json_scalars import LooseScalar, hold_to_form
from booking_service.entrypoints.rest.marshal import Marshaler, UnreadableBody
from booking_service.entrypoints.rest.numbers import INT32, INT64, UINT32, UINT64, BadNumber, whole_number
from booking_service.entrypoints.rest.parse_errors import parse_problem
from booking_service.entrypoints.rest.routes import Match

_BOOL = {"true": True, "1": True, "false": False, "0": False}
_INTEGER_RANGES = {
    FieldDescriptor.TYPE_INT32: INT32,
    FieldDescriptor.TYPE_SINT32: INT32,
    FieldDescriptor.TYPE_SFIXED32: INT32,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_SINT64: INT64,
    FieldDescriptor.TYPE_SFIXED64: INT64,
    FieldDescriptor.TYPE_UINT32: UINT32,
    FieldDescriptor.TYPE_FIXED32: UINT32,
    FieldDescriptor.TYPE_UINT64: UINT64,
    FieldDescriptor.TYPE_FIXED64: UINT64,
}


class BindingError(ValueError):
    """The HTTP request cannot become the RPC's request; lists what is wrong with it."""

    def __init__(self, message: str, violations: Iterable[FieldViolation] = ()) -> None:
        super().__init__(message)
        self.violations = list(violations)


def bind(
    match: Match,
    marshaler: Marshaler,
    body: bytes,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
) -> Message:
    route = match.route
    request = GetMessageClass(route.method.input_type)()
    query = list(query)
    try:
        if route.body == "*":
            if body:
                marshaler.decode(body, request)
            if query:
                names = ", ".join(sorted({k for k, _ in query}))
                raise BindingError(
                    f"This method takes its fields in the body, not as query parameters ({names})."
                )
        elif route.body:
            target = getattr(request, route.body)
            if body:
                marshaler.decode(body, target)
        elif body:
            raise BindingError("This method takes no body; pass its fields as query parameters.")
    except UnreadableBody as exc:
        raise BindingError(str(exc)) from None
    values = _query_values(route.method.input_type, query, exclude={route.body, *match.path_params})
    for path, value in match.path_params.items():
        _put(values, path.split("."), value)
    try:
        hold_to_form(values, request.DESCRIPTOR)  # type: ignore[arg-type]  # upb's or the pure one
    except LooseScalar as exc:
        raise BindingError(f"A path or query parameter does not fit: {exc}") from None
    try:
        json_format.ParseDict(values, request, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise BindingError(f"A path or query parameter does not fit: {parse_problem(exc)}") from None
    _apply_headers(request, headers)
    return request


def _query_values(descriptor: Descriptor, query: list[tuple[str, str]], exclude: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems = []
    seen: set[str] = set()
    for key, raw in query:
        path = key.split(".")
        field = _field_at(descriptor, path)
        if field is None or path[0] in exclude or _canonical(descriptor, path[0]) in exclude:
            problems.append(FieldViolation(key, "is not a query parameter of this method"))
            continue
        path = _canonical_path(descriptor, path)  # pageSize and page_size: one parameter, one key
        if not field.is_repeated:
            # A second value would silently win over the first: name it instead.
            canonical = ".".join(path)
            if canonical in seen:
                problems.append(FieldViolation(key, "is given more than once"))
                continue
            seen.add(canonical)
        if field.type == FieldDescriptor.TYPE_MESSAGE and not _is_scalar_like(field):
            problems.append(FieldViolation(key, "names a message; name one of its fields instead"))
            continue
        value: Any = raw
        if field.type == FieldDescriptor.TYPE_BOOL:
            if raw.lower() not in _BOOL:
                problems.append(FieldViolation(key, "must be true or false"))
                continue
            value = _BOOL[raw.lower()]
        elif field.type in _INTEGER_RANGES:
            try:
                value = whole_number(key, raw, *_INTEGER_RANGES[field.type])
            except BadNumber as exc:
                problems.append(exc.violation)
                continue
        if field.is_repeated:
            existing = _get(values, path)
            value = [*(existing or []), value]
        _put(values, path, value)
    if problems:
        raise BindingError("Some query parameters are not understood.", problems)
    return values


def _field_at(descriptor: Descriptor, path: list[str]) -> FieldDescriptor | None:
    """The field a dotted query parameter names (proto or lowerCamelCase names), if any."""
    field = None
    current: Descriptor | None = descriptor
    for name in path:
        if current is None:
            return None  # a scalar or repeated field cannot have sub-fields
        field = current.fields_by_name.get(name) or current.fields_by_camelcase_name.get(name)
        if field is None:
            return None
        current = field.message_type if not field.is_repeated else None
    return field


def _canonical_path(descriptor: Descriptor, path: list[str]) -> list[str]:
    """A query parameter's proto field names (`pageSize` and `page_size` are the same parameter)."""
    names: list[str] = []
    current: Descriptor | None = descriptor
    for name in path:
        assert current is not None  # _field_at found the whole path
        field = current.fields_by_name.get(name) or current.fields_by_camelcase_name[name]
        names.append(field.name)
        current = field.message_type
    return names


def _canonical(descriptor: Descriptor, name: str) -> str:
    field = descriptor.fields_by_camelcase_name.get(name)
    return field.name if field is not None else name


def _is_scalar_like(field: FieldDescriptor) -> bool:
    """Well-known types written as one JSON string (a timestamp, a duration, a field mask)."""
    return field.message_type is not None and field.message_type.full_name in (
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
    )


def _get(values: dict[str, Any], path: list[str]) -> Any:
    for name in path[:-1]:
        values = values.get(name, {})
    return values.get(path[-1])


def _put(values: dict[str, Any], path: list[str], value: Any) -> None:
    for name in path[:-1]:
        values = values.setdefault(name, {})
    values[path[-1]] = value


def _apply_headers(request: Message, headers: Mapping[str, str]) -> None:
    fields = request.DESCRIPTOR.fields_by_name
    key = headers.get("idempotency-key")
    if key is not None and "idempotency_key" in fields:
        current = getattr(request, "idempotency_key")  # noqa: B009 (a field of a dynamic message)
        if current and current != key:
            raise BindingError(
                "The Idempotency-Key header and the idempotency_key field differ.",
                [FieldViolation("idempotency_key", "must match the Idempotency-Key header")],
            )
        request.idempotency_key = key  # type: ignore[attr-defined]
    match = headers.get("if-match")
    if match is not None and "expected_version" in fields:
        try:
            version = etags.version_of(match)
        except etags.BadPrecondition as exc:
            raise BindingError(str(exc), [exc.violation]) from None
        current = getattr(request, "expected_version")  # noqa: B009
        if current and current != version:
            raise BindingError(
                "The If-Match header and the expected_version field differ.",
                [FieldViolation("expected_version", "must match the If-Match header")],
            )
        request.expected_version = version  # type: ignore[attr-defined]
