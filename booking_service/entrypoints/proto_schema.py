"""JSON Schemas of proto messages in their proto3 JSON form, with the proto comments as descriptions.

Shared by the documents the service publishes: the OpenAPI document of the REST gateway
(rest/openapi.py) and the AsyncAPI document of its events (asyncapi.py). Proto3 JSON: int64 as
strings, enums as names, timestamps as date-time strings, proto field names. The comments come from
the descriptor set that scripts/generate.py writes beside the stubs (with source info).

`Schemas(comments, requests=True)` describes what the REST gateway reads and writes: a message is a
closed object (the gateway refuses a field it does not have), REQUIRED fields are required and
OUTPUT_ONLY ones read-only. With `requests=False` (events) a message is open: a consumer ignores a
field added later, and the request-only field behaviors say nothing.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

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
STRING_TYPES = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated field paths."},
}
#: Well-known types whose JSON carries fields of their own choosing (Any: "@type" and the packed
#: message's fields).
_OPEN_TYPES = {"google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value"}


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


class Schemas:
    """The schemas of the messages referred to so far (`components`), by full name."""

    def __init__(self, comments: Comments, *, requests: bool = True) -> None:
        self.comments = comments
        self.components: dict[str, Any] = {}
        self._requests = requests

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
            if self._requests and field_behavior_pb2.REQUIRED in _behaviors(field):
                required.append(field.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if self._requests and message.full_name not in _OPEN_TYPES:
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
        if self._requests and field_behavior_pb2.OUTPUT_ONLY in _behaviors(field):
            schema["readOnly"] = True
        return schema

    def single(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            message = message_of(field)
            special = STRING_TYPES.get(message.full_name)
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


def message_of(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, f"{field.full_name} is not a message field"
    return field.message_type


def _behaviors(field: FieldDescriptor) -> list[int]:
    return list(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])
