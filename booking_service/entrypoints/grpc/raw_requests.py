"""BookingService requests are read inside the interceptor chain, not before it.

grpc.aio decodes a request with its method handler's request_deserializer before any interceptor
runs, so bytes the decoder refuses (a string that is not UTF-8, a truncated or corrupt message)
would end as UNKNOWN: no request id, no access-log line, no metric, no ErrorInfo. The network
server therefore registers the service's methods with no deserializer (the bytes pass through)
and the interceptor decodes them with DECODERS, inside its error handling: a request the decoder
refuses is INVALID_ARGUMENT `MALFORMED_REQUEST`, as over REST. The REST gateway's in-process calls
carry messages it has already read, so it registers the usual handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from booking.v1 import booking_pb2
from google.protobuf import message_factory
from google.protobuf.message import Message

from booking_service.entrypoints.auth.refusal import CallRefused

_SERVICE = booking_pb2.DESCRIPTOR.services_by_name["BookingService"]

#: The request decoder of each BookingService method, by its full method path.
DECODERS: dict[str, Callable[[bytes], Message]] = {
    f"/{_SERVICE.full_name}/{method.name}": message_factory.GetMessageClass(method.input_type).FromString
    for method in _SERVICE.methods
}


def malformed(method: str) -> CallRefused:
    """The refusal of a request whose bytes do not decode (never echoing them: guest data)."""
    name = _SERVICE.methods_by_name[method.rsplit("/", 1)[-1]].input_type.full_name
    return CallRefused(
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
        f"The request is not a readable {name}: its bytes are truncated or corrupt, or a string "
        "field is not valid UTF-8.",
    )


class RawRequests:
    """Stands in for a server while servicers register, and registers their handlers on it with
    the requests of the methods in DECODERS left as bytes."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """The generated registration's generic handler decodes; add_registered_method_handlers
        registers both kinds from the raw handlers."""

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        raw = {name: _raw(f"/{service}/{name}", handler) for name, handler in handlers.items()}
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, raw),))
        self._server.add_registered_method_handlers(service, raw)


def _raw(method: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    if method not in DECODERS:
        return handler
    if handler.unary_stream is not None:  # WatchBookings
        return grpc.unary_stream_rpc_method_handler(
            handler.unary_stream, request_deserializer=None, response_serializer=handler.response_serializer
        )
    if handler.unary_unary is None:
        return handler
    return grpc.unary_unary_rpc_method_handler(
        handler.unary_unary, request_deserializer=None, response_serializer=handler.response_serializer
    )
