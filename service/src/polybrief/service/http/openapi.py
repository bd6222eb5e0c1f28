"""The OpenAPI 3.1 document of the HTTP API, generated from the proto descriptors and
their ``google.api.http`` rules (never written by hand).

Schemas follow the proto3 JSON mapping (lowerCamelCase names, 64-bit integers and
Durations as strings, enums by name). Descriptions are the proto's own comments, read
from the descriptor set with source info that the stub build writes beside the stubs
(``polybrief/v1/polybrief.binpb``); without it the document is the same, less the prose.
"""

from __future__ import annotations

import importlib.resources
from typing import Any

from google.protobuf import descriptor, descriptor_pb2
from google.rpc import status_pb2
from polybrief.service.http.codes import HTTP_STATUS
from polybrief.service.http.rules import SERVICE, Rule, rules

FD = descriptor.FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
}
# Well-known types with a JSON form of their own (proto3 JSON mapping)
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
        "description": "A message of the type named by @type, with its own fields.",
    },
}
STATUS = status_pb2.Status.DESCRIPTOR.full_name


def _comments() -> dict[str, str]:
    """Leading comments of polybrief.proto by element full name ("polybrief.v1.Brief.text")."""
    try:
        data = (importlib.resources.files("polybrief.v1") / "polybrief.binpb").read_bytes()
    except (FileNotFoundError, OSError):
        return {}
    found: dict[str, str] = {}
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        text = {
            tuple(loc.path): loc.leading_comments.strip()
            for loc in file.source_code_info.location
            if loc.leading_comments.strip()
        }

        def note(name: str, path: tuple[int, ...], text: dict[Any, str] = text) -> None:
            if path in text:
                found[name] = " ".join(line.strip() for line in text[path].splitlines())

        def walk(messages: Any, prefix: str, path: tuple[int, ...]) -> None:
            for i, msg in enumerate(messages):
                name, here = f"{prefix}.{msg.name}", (*path, i)
                note(name, here)
                for j, field in enumerate(msg.field):
                    note(f"{name}.{field.name}", (*here, 2, j))
                walk(msg.nested_type, name, (*here, 3))
                enums(msg.enum_type, name, (*here, 4))

        def enums(items: Any, prefix: str, path: tuple[int, ...]) -> None:
            for i, enum in enumerate(items):
                name = f"{prefix}.{enum.name}"
                note(name, (*path, i))
                for j, value in enumerate(enum.value):
                    note(f"{name}.{value.name}", (*path, i, 2, j))

        walk(file.message_type, file.package, (4,))
        enums(file.enum_type, file.package, (5,))
        for i, service in enumerate(file.service):
            for j, method in enumerate(service.method):
                note(f"{file.package}.{service.name}.{method.name}", (6, i, 2, j))
    return found


class _Schemas:
    """Component schemas for every message and enum reachable from the rules."""

    def __init__(self, comments: dict[str, str]) -> None:
        self.comments = comments
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, kind: descriptor.Descriptor | descriptor.EnumDescriptor) -> dict[str, Any]:
        if kind.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[kind.full_name])
        if kind.full_name not in self.schemas:
            self.schemas[kind.full_name] = {}  # placeholder: recursive types terminate
            if isinstance(kind, descriptor.EnumDescriptor):
                self.schemas[kind.full_name] = self._enum(kind)
            else:
                self.schemas[kind.full_name] = self._message(kind)
        return {"$ref": f"#/components/schemas/{kind.full_name}"}

    def _described(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        if name in self.comments:
            schema["description"] = self.comments[name]
        return schema

    def _enum(self, kind: descriptor.EnumDescriptor) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "enum": [v.name for v in kind.values]}
        notes = [
            f"{v.name}: {self.comments[f'{kind.full_name}.{v.name}']}"
            for v in kind.values
            if f"{kind.full_name}.{v.name}" in self.comments
        ]
        described = self._described(schema, kind.full_name)
        if notes:
            described["description"] = " ".join([described.get("description", ""), *notes]).strip()
        return described

    def _value(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None:
            return self.ref(field.message_type)
        if field.enum_type is not None:
            return self.ref(field.enum_type)
        return dict(_SCALARS[field.type])

    def field(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        kind = field.message_type
        schema: dict[str, Any]
        if kind is not None and kind.GetOptions().map_entry:
            values = self._value(kind.fields_by_name["value"])
            schema = {"type": "object", "additionalProperties": values}
        elif field.is_repeated:
            schema = {"type": "array", "items": self._value(field)}
        else:
            schema = self._value(field)
            if "$ref" in schema and field.full_name in self.comments:
                schema = {"allOf": [schema]}  # siblings of $ref are ignored in 3.0 tools
        if field.containing_oneof is not None and not field.containing_oneof.name.startswith("_"):
            schema["x-oneof"] = field.containing_oneof.name
        return self._described(schema, field.full_name)

    def _message(self, kind: descriptor.Descriptor) -> dict[str, Any]:
        properties = {field.json_name: self.field(field) for field in kind.fields}
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        oneofs = [o for o in kind.oneofs if not o.name.startswith("_")]
        if oneofs:
            names = "; ".join(
                f"{o.name}: one of {', '.join(f.json_name for f in o.fields)}" for o in oneofs
            )
            schema["x-oneofs"] = names
        return self._described(schema, kind.full_name)


def _operation(rule: Rule, schemas: _Schemas) -> dict[str, Any]:
    name = rule.method.full_name
    text = schemas.comments.get(name, "")
    errors = {"$ref": "#/components/responses/Error"}
    operation: dict[str, Any] = {
        "operationId": rule.method.name,
        "summary": text.split(". ")[0].rstrip(".") if text else rule.method.name,
        "description": f"{text}\n\ngRPC: `{rule.rpc}`".strip(),
        "tags": [SERVICE.name],
    }
    if rule.body == "*":
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(rule.method.input_type)}},
        }
    else:
        operation["parameters"] = [
            {"name": f.json_name, "in": "query", "schema": schemas.field(f)}
            for f in rule.method.input_type.fields
        ]
    output = schemas.ref(rule.method.output_type)
    if rule.streaming:
        content = {
            "text/event-stream": {
                "schema": {"type": "string"},
                "x-event-schema": output,
                "description": (
                    f"Server-Sent Events: one per {rule.method.output_type.name}, named after "
                    "its oneof field (the last one `done`); `data` is the event's JSON. An "
                    "error after the first event ends the stream with an `error` event whose "
                    "data is a google.rpc.Status."
                ),
            }
        }
    else:
        content = {"application/json": {"schema": output}}
    operation["responses"] = {"200": {"description": "OK", "content": content}, "default": errors}
    return operation


def openapi(version: str = "0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every annotated RPC."""
    schemas = _Schemas(_comments())
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules():
        paths.setdefault(rule.path, {})[rule.verb.lower()] = _operation(rule, schemas)
    status_ref = schemas.ref(status_pb2.Status.DESCRIPTOR)
    codes = ", ".join(f"{code.name} {http}" for code, http in HTTP_STATUS.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "polybrief HTTP/JSON API",
            "version": version,
            "description": (
                "Transcoded from the gRPC service polybrief.v1.Polybrief: the same validation, "
                "limits, auth and errors. Bodies are the proto3 JSON mapping. Errors are a "
                "google.rpc.Status with the gRPC code's HTTP status "
                f"({codes}); RESOURCE_EXHAUSTED with RetryInfo sets Retry-After. Send "
                "`grpc-timeout` (e.g. `30S`) for a deadline and `x-request-id` to name the call."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "responses": {
                "Error": {
                    "description": "A google.rpc.Status (its details: BadRequest, RetryInfo, …)",
                    "content": {"application/json": {"schema": status_ref}},
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
