"""The OpenAPI 3 document, generated from the route table and the proto descriptors.

Paths and parameters come from the google.api.http rules, schemas from the messages (proto3 JSON:
int64 as strings, enums as names, timestamps as date-time strings), descriptions from the proto
comments (both: proto_schema.py, which the AsyncAPI document of the events shares).

Links (OpenAPI 3 section 4.7.22) are derived too: an answer links to every operation whose path
variables it holds by name (a Booking's `booking_id` and `booking_reference`, its `guest.guest_id` and
`venue.venue_id`), passing its ETag as If-Match where that operation takes an expected version.
Clients read them as "what can I do next with this", and schemathesis's stateful phase follows them
to drive create -> update -> cancel -> get sequences (tests/e2e/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from booking_service.entrypoints.proto_schema import STRING_TYPES, Comments, Schemas, message_of
from booking_service.entrypoints.rest.routes import Route, RouteTable

__all__ = ["Comments", "build"]

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


def build(routes: RouteTable, comments: Comments, *, title: str, version: str) -> dict[str, Any]:
    schemas = Schemas(comments)
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


def _operation(route: Route, schemas: Schemas, error: dict[str, Any]) -> dict[str, Any]:
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


def _answer(route: Route, schemas: Schemas) -> dict[str, Any]:
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
            child = message_of(parent).fields_by_name.get(name)
            if child is not None and child.type != FieldDescriptor.TYPE_MESSAGE and not child.is_repeated:
                return f"/{parent.name}/{name}"
    return None


def _query_parameters(
    message: Descriptor, prefix: str, skip: frozenset[str] | set[str], schemas: Schemas
) -> list[dict[str, Any]]:
    parameters = []
    for field in message.fields:
        name = prefix + field.name
        if name in skip:
            continue
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_MESSAGE and message_of(field).full_name not in STRING_TYPES:
            if not repeated:
                parameters.extend(_query_parameters(message_of(field), name + ".", skip, schemas))
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
        message = message_of(message.fields_by_name[name])
    return message.fields_by_name[last]
