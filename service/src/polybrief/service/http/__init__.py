"""The HTTP/JSON adapter: the proto's ``google.api.http`` rules served over HTTP.

A transcoder in the grpc-gateway manner: each request's JSON body becomes the RPC's
request message (``json_format``, the canonical proto3 mapping), is sent to this
process's own gRPC server over a private unix socket (``authorization``,
``x-request-id`` and the deadline forwarded), and the response, event stream
(Server-Sent Events) or ``google.rpc.Status`` comes back as JSON with the HTTP code of
its gRPC code. Validation, limits, admission, auth and metrics are therefore the gRPC
ones, not a copy. Also served: the OpenAPI document generated from the proto
(``/v1/openapi.json``), a docs page (``/docs``) and the editors' page (``/``).
"""

from polybrief.service.http.serve import HttpServer

__all__ = ["HttpServer"]
