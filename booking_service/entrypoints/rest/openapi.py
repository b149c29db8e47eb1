"""The OpenAPI 3 document, generated from the route table and the proto descriptors.

Paths and parameters come from the google.api.http rules, schemas from the messages (proto3 JSON:
int64 as strings, enums as names, timestamps as date-time strings), descriptions from the proto
comments (kept in the descriptor set that scripts/generate.py writes beside the stubs).

Links (OpenAPI 3 section 4.7.22) are derived too: an answer links to every operation whose path
variables it holds by name (a Booking's `booking_id` and `booking_reference`, its `guest.guest_id` and
`venue.venue_id`), passing its ETag as If-Match where that operation takes an expected version.
Clients read them as "what can I do next with this", and schemathesis's stateful phase follows them
to drive create -> update -> cancel -> get sequences (tests/e2e/test_openapi.py).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from booking_service.entrypoints.rest.routes import Route, RouteTable

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
#: Well-known types that proto3 JSON writes as one string.
_STRING_TYPES = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated field paths."},
}
#: Well-known types whose JSON carries fields of their own choosing (Any: "@type" and the packed
#: message's fields).
_OPEN_TYPES = {"google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value"}
_REQUEST_HEADERS = [
    {
        "name": "X-Request-Id",
        "in": "header",
        "schema": {"type": "string"},
        "description": "Echoed back; in every log line of the call.",
    },
    {
        "name": "X-Actor",
        "in": "header",
        "schema": {"type": "string"},
        "description": "Who calls; recorded in the booking's history.",
    },
]


class Comments:
    """Leading comments of proto elements, by full name, from a descriptor set with source info."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self._by_name: dict[str, str] = {}
        for file in files.file:
            comments = {
                tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location
            }
            prefix = file.package
            for i, message in enumerate(file.message_type):
                self._message(comments, (4, i), f"{prefix}.{message.name}", message)
            for i, enum in enumerate(file.enum_type):
                self._enum(comments, (5, i), f"{prefix}.{enum.name}", enum)
            for i, service in enumerate(file.service):
                name = f"{prefix}.{service.name}"
                self._keep(name, comments.get((6, i)))
                for j, method in enumerate(service.method):
                    self._keep(f"{name}.{method.name}", comments.get((6, i, 2, j)))

    @classmethod
    def packaged(cls) -> Comments:
        data = resources.files("booking").joinpath("descriptors.binpb").read_bytes()
        return cls(descriptor_pb2.FileDescriptorSet.FromString(data))

    def of(self, full_name: str) -> str:
        return self._by_name.get(full_name, "")

    def _keep(self, name: str, comment: str | None) -> None:
        if comment:
            self._by_name[name] = comment

    def _message(
        self, comments: dict[tuple[int, ...], str], path: tuple[int, ...], name: str, message: Any
    ) -> None:
        self._keep(name, comments.get(path))
        for i, field in enumerate(message.field):
            self._keep(f"{name}.{field.name}", comments.get((*path, 2, i)))
        for i, nested in enumerate(message.nested_type):
            self._message(comments, (*path, 3, i), f"{name}.{nested.name}", nested)
        for i, enum in enumerate(message.enum_type):
            self._enum(comments, (*path, 4, i), f"{name}.{enum.name}", enum)

    def _enum(
        self, comments: dict[tuple[int, ...], str], path: tuple[int, ...], name: str, enum: Any
    ) -> None:
        self._keep(name, comments.get(path))


class _Schemas:
    def __init__(self, comments: Comments) -> None:
        self.comments = comments
        self.components: dict[str, Any] = {}

    def ref(
        self, message: Descriptor, *, without: frozenset[str] = frozenset(), suffix: str = ""
    ) -> dict[str, Any]:
        name = message.full_name + suffix
        if name not in self.components:
            self.components[name] = {}  # placeholder: messages may refer to themselves
            self.components[name] = self._object(message, without)
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, message: Descriptor, without: frozenset[str]) -> dict[str, Any]:
        properties, required = {}, []
        for field in message.fields:
            if field.name in without:
                continue
            properties[field.name] = self.field(field)
            if field_behavior_pb2.REQUIRED in _behaviors(field):
                required.append(field.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if message.full_name not in _OPEN_TYPES:
            # The gateway refuses a field the message does not have (proto3 JSON parsing).
            schema["additionalProperties"] = False
        if required:
            schema["required"] = required
        if description := self.comments.of(message.full_name):
            schema["description"] = description
        return schema

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            schema: dict[str, Any] = {"type": "object", "additionalProperties": self.single(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.single(field)}
        else:
            schema = self.single(field)
        if "$ref" in schema:
            schema = {"allOf": [schema]}
        if description := self.comments.of(field.full_name):
            schema["description"] = description
        if field_behavior_pb2.OUTPUT_ONLY in _behaviors(field):
            schema["readOnly"] = True
        return schema

    def single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            message = _message(field)
            special = _STRING_TYPES.get(message.full_name)
            if special is not None:
                return dict(special)
            if message.full_name == "google.protobuf.Any":
                return {
                    "type": "object",
                    "properties": {"@type": {"type": "string"}},
                    "additionalProperties": True,
                }
            return self.ref(message)
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        if field.type in _INT64:
            unsigned = field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64)
            return {"type": "string", "format": "int64", "pattern": "^[0-9]+$" if unsigned else "^-?[0-9]+$"}
        if field.type in _INT32:
            return {"type": "integer", "format": "int32"}
        if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return {"type": "number"}
        if field.type == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if field.type == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        return {"type": "string"}


def _message(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, f"{field.full_name} is not a message field"
    return field.message_type


def _behaviors(field: FieldDescriptor) -> list[int]:
    return list(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def build(routes: RouteTable, comments: Comments, *, title: str, version: str) -> dict[str, Any]:
    schemas = _Schemas(comments)
    from google.rpc import status_pb2

    error = {
        "description": "An error: a google.rpc.Status",
        "content": {"application/json": {"schema": schemas.ref(status_pb2.Status.DESCRIPTOR)}},
    }
    paths: dict[str, Any] = {}
    services = []
    for route in routes.routes:
        service = route.method.containing_service
        if service.full_name not in services:
            services.append(service.full_name)
        operation = _operation(route, schemas, error)
        links = _links(route, routes.routes)
        if links:
            operation["responses"]["200"]["links"] = links
        paths.setdefault(route.template.openapi_path(), {})[route.http_method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The REST face of " + ", ".join(services) + ": every path below is an RPC's "
                "`google.api.http` rule, and behaves exactly like the RPC (gRPC on port 50051). "
                "Errors are `google.rpc.Status` objects."
            ),
        },
        "tags": [{"name": s.rsplit(".", 1)[-1], "description": comments.of(s)} for s in services],
        "paths": paths,
        "components": {"schemas": schemas.components},
    }


def _operation(route: Route, schemas: _Schemas, error: dict[str, Any]) -> dict[str, Any]:
    method: MethodDescriptor = route.method
    request = method.input_type
    in_path = frozenset(v.field_path for v in route.template.variables)
    parameters: list[dict[str, Any]] = []
    for variable in route.template.variables:
        field = _field(request, variable.field_path)
        parameters.append(
            {
                "name": variable.field_path,
                "in": "path",
                "required": True,
                "schema": schemas.single(field),
                "description": schemas.comments.of(field.full_name),
            }
        )
    if route.body != "*":
        skip = in_path | ({route.body} if route.body else set())
        parameters.extend(_query_parameters(request, "", skip, schemas))
    fields = request.fields_by_name
    if "idempotency_key" in fields:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "schema": {"type": "string", "maxLength": 255},
                "description": "Instead of the idempotency_key field.",
            }
        )
    if "expected_version" in fields:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "schema": {"type": "string", "pattern": '^"[1-9][0-9]*"$'},
                "description": (
                    'The booking\'s ETag (`"3"`), instead of the expected_version field. One strong '
                    'ETag only, exactly as written: `*`, weak ETags (`W/"3"`), lists, `"0"` and other '
                    'spellings of a number (`"03"`, `"+3"`) are refused (400).'
                ),
            }
        )
    parameters.extend(_REQUEST_HEADERS)
    if method.server_streaming and "start_position" in fields:
        parameters.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "schema": {"type": "string"},
                "description": "Instead of start_position: the `id:` of the last event received.",
            }
        )
    operation: dict[str, Any] = {
        "operationId": f"{method.containing_service.name}_{method.name}"
        + (f"_{route.binding}" if route.binding else ""),
        "summary": method.name,
        "description": schemas.comments.of(method.full_name),
        "tags": [method.containing_service.name],
        "parameters": parameters,
        "responses": {"200": _answer(route, schemas), "default": error},
    }
    if route.body:
        if route.body == "*":
            body = (
                schemas.ref(request, without=in_path, suffix="Body" if in_path else "")
                if in_path
                else schemas.ref(request)
            )
        else:
            body = schemas.single(fields[route.body])
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _answer(route: Route, schemas: _Schemas) -> dict[str, Any]:
    output = route.method.output_type
    schema = (
        schemas.single(output.fields_by_name[route.response_body])
        if route.response_body
        else schemas.ref(output)
    )
    headers: dict[str, Any] = {"X-Request-Id": {"schema": {"type": "string"}}}
    if route.method.server_streaming:  # server-sent events (sse.py): one JSON message per event
        return {
            "description": (
                f"A stream of server-sent events (text/event-stream) that stays open: each event's "
                f"`data:` is one {output.name} as JSON (`x-event-data` gives its schema), its `id:` "
                "the message's position (send it back as Last-Event-ID, or as start_position, to "
                "resume); heartbeats are comment lines (`: keep-alive`) with an `id:`. An error "
                "after the first event comes as a last event `error` holding a google.rpc.Status."
            ),
            "headers": headers,
            "content": {"text/event-stream": {"schema": {"type": "string"}, "x-event-data": schema}},
        }
    if "version" in output.fields_by_name:
        headers["ETag"] = {
            "schema": {"type": "string"},
            "description": 'The version as a strong ETag (`"3"`), for If-Match.',
        }
    return {"description": "OK", "headers": headers, "content": {"application/json": {"schema": schema}}}


def _links(source: Route, routes: list[Route]) -> dict[str, Any]:
    """The operations an answer of `source` can call next: those whose every path variable is a field
    of the answer, found by its name at the top level or one message down, by proto3 JSON pointers."""
    if source.response_body:
        return {}
    answer = source.method.output_type
    links: dict[str, Any] = {}
    for target in routes:
        variables = [v.field_path for v in target.template.variables]
        pointers = [_pointer(answer, variable.rsplit(".", 1)[-1]) for variable in variables]
        if not variables or None in pointers:
            continue
        parameters = {f"path.{v}": f"$response.body#{p}" for v, p in zip(variables, pointers, strict=True)}
        versioned = "version" in answer.fields_by_name
        if versioned and "expected_version" in target.method.input_type.fields_by_name:
            parameters["header.If-Match"] = "$response.header.ETag"
        name = target.method.name + (f"_{target.binding}" if target.binding else "")
        links[name] = {
            "operationId": f"{target.method.containing_service.name}_{name}",
            "parameters": parameters,
            "description": f"{target.method.name} on this answer's {', '.join(variables)}.",
        }
    return links


def _pointer(message: Descriptor, name: str) -> str | None:
    """The JSON pointer of the scalar field called `name` in message, or one message down."""
    field = message.fields_by_name.get(name)
    if field is not None and field.type != FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
        return f"/{name}"
    for parent in message.fields:
        if parent.type == FieldDescriptor.TYPE_MESSAGE and not parent.is_repeated:
            child = _message(parent).fields_by_name.get(name)
            if child is not None and child.type != FieldDescriptor.TYPE_MESSAGE and not child.is_repeated:
                return f"/{parent.name}/{name}"
    return None


def _query_parameters(
    message: Descriptor, prefix: str, skip: frozenset[str] | set[str], schemas: _Schemas
) -> list[dict[str, Any]]:
    parameters = []
    for field in message.fields:
        name = prefix + field.name
        if name in skip:
            continue
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_MESSAGE and _message(field).full_name not in _STRING_TYPES:
            if not repeated:
                parameters.extend(_query_parameters(_message(field), name + ".", skip, schemas))
            continue
        schema = {"type": "array", "items": schemas.single(field)} if repeated else schemas.single(field)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "schema": schema,
                "description": schemas.comments.of(field.full_name),
                **({"style": "form", "explode": True} if repeated else {}),
            }
        )
    return parameters


def _field(message: Descriptor, path: str) -> FieldDescriptor:
    *parents, last = path.split(".")
    for name in parents:
        message = _message(message.fields_by_name[name])
    return message.fields_by_name[last]
