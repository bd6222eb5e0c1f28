"""Request decoding that turns invalid UTF-8 into INVALID_ARGUMENT naming the field.

protobuf rejects a string field holding invalid UTF-8 while the request is decoded,
before any handler runs, and gRPC would answer INTERNAL. Here a failed decode is kept as
``Undecodable``; the handler then re-reads the bytes with a twin of the message type
whose string fields are ``bytes`` to find which field (``texts[2]``) is not UTF-8.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, message, message_factory
from polybrief.service.domain import FieldViolation
from polybrief.v1 import polybrief_pb2

M = TypeVar("M", bound=message.Message)
_TWIN_PACKAGE = "polybrief.wire_twin"


@dataclass(frozen=True)
class Undecodable:
    """A request that could not be decoded, with the fields to blame."""

    violations: tuple[FieldViolation, ...]


@functools.lru_cache(maxsize=1)
def _twin_pool() -> descriptor_pool.DescriptorPool:
    proto = descriptor_pb2.FileDescriptorProto()
    polybrief_pb2.DESCRIPTOR.CopyToProto(proto)
    original = f".{proto.package}."
    proto.name, proto.package = "polybrief_wire_twin.proto", _TWIN_PACKAGE
    # the services, and the HTTP annotations they import, are no part of any message
    del proto.service[:]
    del proto.dependency[:]
    for msg in proto.message_type:
        for fld in msg.field:
            if fld.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                fld.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            if fld.type_name:
                fld.type_name = fld.type_name.replace(original, f".{_TWIN_PACKAGE}.")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool


def _bad_utf8_fields(msg: message.Message, prefix: str = "") -> list[str]:
    fields: list[str] = []
    for fld, value in msg.ListFields():
        name = f"{prefix}{fld.name}"
        values = list(value) if fld.is_repeated else [value]
        for index, item in enumerate(values):
            where = f"{name}[{index}]" if fld.is_repeated else name
            if isinstance(item, bytes):
                try:
                    item.decode("utf-8")
                except UnicodeDecodeError:
                    fields.append(where)
            elif isinstance(item, message.Message):
                fields.extend(_bad_utf8_fields(item, f"{where}."))
    return fields


def diagnose(message_type: type[message.Message], data: bytes) -> Undecodable:
    """Which fields of ``data`` made decoding as ``message_type`` fail."""
    name = message_type.DESCRIPTOR.name
    twin = message_factory.GetMessageClass(
        _twin_pool().FindMessageTypeByName(f"{_TWIN_PACKAGE}.{name}")
    )
    try:
        fields = _bad_utf8_fields(twin.FromString(data))
    except message.DecodeError:
        fields = []
    if fields:
        return Undecodable(tuple(FieldViolation(f, "is not valid UTF-8") for f in fields))
    return Undecodable((FieldViolation("", "the request is not a valid protobuf message"),))


def lenient(message_type: type[M]) -> Callable[[bytes], M | Undecodable]:
    """A request deserializer that returns Undecodable instead of failing the call."""

    def decode(data: bytes) -> M | Undecodable:
        try:
            return message_type.FromString(data)
        except message.DecodeError:
            return diagnose(message_type, data)

    return decode


def serializer(msg: Any) -> bytes:
    return bytes(msg.SerializeToString())
