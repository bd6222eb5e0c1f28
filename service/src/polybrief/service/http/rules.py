"""The HTTP rules of the contract, read from the ``google.api.http`` options of the
polybrief.v1 service descriptor: the routes, the transcoder and the OpenAPI document
all come from this one list."""

from __future__ import annotations

from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message
from polybrief.v1 import polybrief_pb2

SERVICE = polybrief_pb2.DESCRIPTOR.services_by_name["Polybrief"]
VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Rule:
    """One RPC's HTTP binding."""

    method: descriptor.MethodDescriptor
    verb: str  # "GET", "POST", …
    path: str  # "/v1/briefs:stream"
    body: str  # "*": the whole request is the JSON body; "": none (query parameters)

    @property
    def rpc(self) -> str:
        """The gRPC method path, "/polybrief.v1.Polybrief/Summarize"."""
        return f"/{SERVICE.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)


def _binding(method: descriptor.MethodDescriptor) -> http_pb2.HttpRule | None:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return rule


def rules(service: descriptor.ServiceDescriptor = SERVICE) -> list[Rule]:
    """Every annotated RPC of ``service``, in declaration order."""
    found = []
    for method in service.methods:
        rule = _binding(method)
        if rule is None:
            continue
        verb = rule.WhichOneof("pattern")
        if verb not in VERBS:
            raise ValueError(f"{method.full_name}: unsupported http pattern {verb!r}")
        found.append(Rule(method, verb.upper(), getattr(rule, verb), rule.body))
    return found
